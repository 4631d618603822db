"""nerfspec.synth.reader: scene descriptions (scenes/*.toml) read and checked: the resolved
description round-trips, every built-in scene is valid, and bad ones are one-line errors."""

from __future__ import annotations

import math

import pytest

from nerfspec.errors import NerfspecError
from nerfspec.synth import SCENES_DIR, load_scene_description, make_scene
from tests.test_raycast import tiny  # noqa: F401  (the module fixture)

def test_resolved_description_round_trips(tiny):
    resolved = load_scene_description(tiny / "scene.toml")
    original = load_scene_description(SCENES_DIR / "default.toml")
    assert resolved.objects == original.objects
    assert (resolved.camera, resolved.light.ambient, resolved.seed) == (
        original.camera, original.light.ambient, original.seed)


BASE = """\
size = 16
[views]
train = 2
val = 1
test = 1
[camera]
radius = 4.0
placement = "sphere"
camera_angle_x = 0.7
[light]
ambient = 0.3
direction = [0.0, 0.0, 1.0]
intensity = 0.7
[[objects]]
type = "sphere"
center = [0.0, 0.0, 0.0]
radius = 1.0
material = { texture = "solid", color = [0.5, 0.5, 0.5] }
"""


BAD = {
    "missing_key": (("size = 16\n", ""), "'size'"),
    "missing_object_key": (("radius = 1.0\n", ""), "'objects[0].radius'"),
    "unknown_primitive": (('type = "sphere"', 'type = "cube"'), "objects[0].type"),
    "unknown_texture": (('texture = "solid"', 'texture = "marble"'), "objects[0].material.texture"),
    "negative_radius": (("radius = 1.0", "radius = -1.0"), "objects[0].radius"),
    "negative_size": (("size = 16", "size = -16"), "'size'"),
    "zero_views": (("train = 2", "train = 0"), "views.train"),
    "unknown_key": (("radius = 1.0", "raduis = 1.0"), "did you mean 'objects[0].radius'"),
    "unknown_top_key": (("size = 16", "sise = 16"), "did you mean 'size'"),
    "unknown_texture_key": (("color = [", "colour = ["), "did you mean 'objects[0].material.color'"),
    "bad_vector": (("center = [0.0, 0.0, 0.0]", "center = [0.0, 0.0]"), "objects[0].center"),
    "bad_color": (("color = [0.5, 0.5, 0.5]", "color = [0.5, 2.0, 0.5]"), "objects[0].material.color"),
    "wrong_type": (("radius = 1.0", 'radius = "big"'), "objects[0].radius"),
    "bad_placement": (('placement = "sphere"', 'placement = "spheer"'), "did you mean 'sphere'"),
    "zero_direction": (("direction = [0.0, 0.0, 1.0]", "direction = [0.0, 0.0, 0.0]"), "light.direction"),
    "out_of_bounds": (("radius = 1.0", "radius = 1.6"), "bounds"),
    "camera_inside": (("radius = 4.0", "radius = 0.9"), "camera.radius"),
    "no_objects": (("[[objects]]", "[[things]]"), "unknown key 'things'"),
    "invalid_toml": (("size = 16", "size = = 16"), "not valid TOML"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_descriptions_raise_one_line_errors(tmp_path, case):
    (old, new), expected = BAD[case]
    assert old in BASE
    path = tmp_path / f"{case}.toml"
    path.write_text(BASE.replace(old, new, 1))
    with pytest.raises(NerfspecError) as info:
        load_scene_description(path)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg and expected in msg, msg
    with pytest.raises(NerfspecError):
        make_scene(path, tmp_path / "out", progress=False)


def test_more_bad_descriptions(tmp_path):
    torus = BASE.replace('type = "sphere"', 'type = "torus"').replace(
        "radius = 1.0", "major_radius = 0.5\nminor_radius = 0.6")
    grating = BASE.replace('{ texture = "solid", color = [0.5, 0.5, 0.5] }',
                           '{ texture = "grating", colors = [[0, 0, 0], [1, 1, 1]], cycles_per_unit = 0 }')
    cases = {"missing.toml": None, "torus.toml": torus, "grating.toml": grating}
    for name, text in cases.items():
        path = tmp_path / name
        if text is not None:
            path.write_text(text)
        with pytest.raises(NerfspecError) as info:
            load_scene_description(path)
        assert "\n" not in str(info.value) and str(path) in str(info.value)
    ok = tmp_path / "ok.toml"
    ok.write_text(BASE)
    for kwargs in ({"size": 0}, {"views": 0}, {"seed": -1}):
        with pytest.raises(NerfspecError):
            make_scene(ok, tmp_path / "out", progress=False, **kwargs)


def test_all_builtin_scenes_are_valid():
    for path in sorted(SCENES_DIR.glob("*.toml")):
        desc = load_scene_description(path)
        assert desc.name == path.stem
    ladder = load_scene_description(SCENES_DIR / "spectral_ladder.toml")
    assert [b.name for b in ladder.bands] == ["f1", "f2", "f4", "f8", "f16", "f32", "f64"]
    assert ladder.size == 200
    # 64 cycles per unit representable head-on at the nearest and farthest visible surfaces
    f = 0.5 * ladder.size / math.tan(0.5 * ladder.camera.camera_angle_x)
    reach = max(math.dist(o.center, (0, 0, 0)) + o.bounding_radius() for o in ladder.objects)
    assert (ladder.camera.radius + reach) / f < 1.0 / (2 * 64)
