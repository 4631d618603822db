"""Scene synthesis: built-in analytic scenes (``scenes/*.toml``) rendered as a Blender scene or
as a capture, with their ground-truth mesh.

description.py (the scene format and its dataclasses), reader.py (TOML -> validated
description), scene_files.py (where the built-in scenes are), generate.py (cameras, the
Blender / capture writers, ``make_scene``), raycast.py (analytic ray caster and shading) over
shapes.py (the primitives' intersections), environment.py (sky and room backgrounds),
capture_variants.py (a capture written the ways other tools write it).
"""

from nerfspec.synth.description import SPLITS, SceneDescription, SceneError, description_to_toml
from nerfspec.synth.generate import Photography, camera_poses, make_scene, make_tiny_scene, ray_hit
from nerfspec.synth.reader import description_from_dict, load_scene_description
from nerfspec.synth.scene_files import SCENES_DIR, scene_file

__all__ = [
    "SCENES_DIR", "SPLITS", "Photography", "SceneDescription", "SceneError", "camera_poses",
    "description_from_dict", "description_to_toml", "load_scene_description", "make_scene",
    "make_tiny_scene", "ray_hit", "scene_file",
]
