"""nerfspec.synth.raycast: the analytic ray caster behind make-scene: camera rays hit the analytic
surfaces, and the ground-truth meshes lie on them."""

from __future__ import annotations

import json
import math
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import trimesh

from nerfspec.synth import raycast
from nerfspec.synth import (SCENES_DIR, load_scene_description, make_scene, make_tiny_scene,
                           ray_hit)

SPHERE = SCENES_DIR / "sphere.toml"


def _rays(frame: dict, width: int, height: int, camera_angle_x: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel world rays (H*W, 3) of a frame, written out from the Blender convention."""
    pose = np.asarray(frame["transform_matrix"], dtype=np.float64)
    f = 0.5 * width / math.tan(0.5 * camera_angle_x)
    j, i = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    cam = np.stack([(i + 0.5 - width / 2) / f, -(j + 0.5 - height / 2) / f, -np.ones(i.shape)], -1)
    dirs = cam.reshape(-1, 3) @ pose[:3, :3].T
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    return np.broadcast_to(pose[:3, 3], dirs.shape).copy(), dirs


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_tiny_scene(tmp_path_factory.mktemp("tiny"), size=32, views=6)


@pytest.fixture(scope="module")
def sphere(tmp_path_factory) -> Path:
    # odd size: the centre pixel's ray passes exactly through the image centre
    return make_scene(SPHERE, tmp_path_factory.mktemp("sphere"), size=25, views=3, progress=False)


def test_camera_rays_hit_the_analytic_sphere(sphere):
    desc = load_scene_description(SPHERE)
    meta = json.loads((sphere / "transforms_train.json").read_text())
    size, fov = 25, meta["camera_angle_x"]
    f = 0.5 * size / math.tan(0.5 * fov)
    for k, frame in enumerate(meta["frames"]):
        o, d = _rays(frame, size, size, fov)
        t, hit, normals = ray_hit(desc, o, d)
        centre = 12 * size + 12
        assert hit[centre] and t[centre] == pytest.approx(4.0 - 1.0, abs=1e-9)
        # analytic ray-sphere: closest approach of each pixel-centre ray to the origin
        b = np.sum(o * d, axis=1)
        miss_dist = np.sqrt(np.maximum(np.sum(o * o, axis=1) - b * b, 0))
        assert np.array_equal(hit, miss_dist <= 1.0)
        t_exact = -b - np.sqrt(np.maximum(1.0 - miss_dist ** 2, 0))
        np.testing.assert_allclose(t[hit], t_exact[hit], atol=1e-9)
        p = o[hit] + t[hit, None] * d[hit]
        np.testing.assert_allclose(normals[hit], p, atol=1e-9)
        # a pixel's footprint at the sphere is about 4 / f; rays missing by more than a pixel
        # diagonal see only background, rays inside by that much see only the sphere
        alpha = iio.imread(sphere / f"train/r_{k}.png")[..., 3].reshape(-1)
        margin = 4.0 / f
        assert np.all(alpha[miss_dist > 1.0 + margin] == 0)
        assert np.all(alpha[miss_dist < 1.0 - margin] == 255)
        assert np.any(miss_dist > 1.0 + margin) and np.any(miss_dist < 1.0 - margin)


@pytest.mark.parametrize("scene", ["geometry", "default"])
def test_hits_lie_on_the_surfaces(scene):
    """Random rays at the scene: every reported hit is on a primitive's surface, with a unit
    normal, and the first: no primitive's surface is crossed before it."""
    desc = load_scene_description(SCENES_DIR / f"{scene}.toml")
    shapes = raycast.build_shapes(desc)
    rng = np.random.default_rng(0)
    eyes = rng.normal(size=(3000, 3))
    eyes = 4.0 * eyes / np.linalg.norm(eyes, axis=1, keepdims=True)
    targets = rng.uniform(-0.8, 0.8, size=(3000, 3))
    d = targets - eyes
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    t, hit, normals = ray_hit(desc, eyes, d)
    assert 0.2 < hit.mean() < 1.0
    p = (eyes[hit] + t[hit, None] * d[hit]).T
    dist = np.min([np.abs(s.sdf(s.to_local(p))) for s in shapes], axis=0)
    assert dist.max() < 1e-5
    np.testing.assert_allclose(np.linalg.norm(normals[hit], axis=1), 1.0, atol=1e-9)
    assert np.all(np.sum(normals[hit] * d[hit], axis=1) < 1e-9)  # facing the camera
    # no surface before the hit: the SDF along the ray stays positive up to t
    for frac in (0.25, 0.5, 0.75, 0.98):
        q = (eyes[hit] + frac * t[hit, None] * d[hit]).T
        assert np.min([s.sdf(s.to_local(q)) for s in shapes], axis=0).min() > -1e-9


def test_meshes(sphere, tiny):
    m = trimesh.load(sphere / "mesh.ply", force="mesh")
    assert len(m.faces) > 1000
    np.testing.assert_allclose(np.linalg.norm(m.vertices, axis=1), 1.0, atol=1e-5)
    m = trimesh.load(tiny / "mesh.ply", force="mesh")
    assert len(m.faces) > 100
    assert np.all(m.bounds[0] >= -1.5) and np.all(m.bounds[1] <= 1.5)


def test_mesh_vertices_lie_on_the_analytic_surfaces():
    desc = load_scene_description(SCENES_DIR / "geometry.toml")  # rotated box, tilted cylinder, torus
    shapes = raycast.build_shapes(desc)
    mesh = raycast.union_mesh(shapes)
    v = np.asarray(mesh.vertices).T
    assert np.min([np.abs(s.sdf(s.to_local(v))) for s in shapes], axis=0).max() < 1e-9
    # the mesh spans what the ray caster sees: every primitive contributes faces
    assert len(mesh.faces) > 1000


def test_union_mesh_keeps_the_part_of_a_face_that_nothing_stands_on():
    """The default scene's plinth with the crate and the column standing on it: the union's area
    is the three meshes' less twice each footprint (the plinth's top under it and its base)."""
    shapes = [s for s in raycast.build_shapes(load_scene_description(SCENES_DIR / "default.toml"))
              if s.obj.name in ("plinth", "crate", "column")]
    crate, column = (next(s for s in shapes if s.obj.name == n) for n in ("crate", "column"))
    base = 4 * crate.h[0] * crate.h[1]
    cap = 0.5 * 96 * column.r ** 2 * math.sin(2 * math.pi / 96)  # the mesh's 96-gon
    expected = sum(s.mesh().area for s in shapes) - 2 * base - 2 * cap
    assert raycast.union_mesh(shapes).area == pytest.approx(expected, abs=2e-3)
