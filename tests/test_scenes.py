"""The analytic scene generator: Blender-format output, camera convention, determinism,
analytic hits, mesh, and one-line errors for bad scene descriptions."""

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
from nerfspec.errors import NerfspecError

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


def test_writes_blender_format(tiny):
    for name in ("transforms_train.json", "transforms_val.json", "transforms_test.json", "mesh.ply",
                 "scene.toml"):
        assert (tiny / name).is_file(), name
    counts = {}
    for split in ("train", "val", "test"):
        meta = json.loads((tiny / f"transforms_{split}.json").read_text())
        assert set(meta) >= {"camera_angle_x", "frames", "bands"}
        assert meta["camera_angle_x"] == pytest.approx(0.6911112070083618)
        assert meta["bands"] == []
        counts[split] = len(meta["frames"])
        for k, frame in enumerate(meta["frames"]):
            assert frame["file_path"] == f"./{split}/r_{k}"
            assert frame["band_path"] == f"./{split}/r_{k}_band.png"
            pose = np.asarray(frame["transform_matrix"])
            assert pose.shape == (4, 4)
            np.testing.assert_allclose(pose[:3, :3].T @ pose[:3, :3], np.eye(3), atol=1e-9)
            assert np.linalg.norm(pose[:3, 3]) == pytest.approx(4.0)
            assert pose[2, 3] >= 0  # upper hemisphere
            img = iio.imread(tiny / f"{split}/r_{k}.png")
            assert img.shape == (32, 32, 4) and img.dtype == np.uint8
            band = iio.imread(tiny / f"{split}/r_{k}_band.png")
            assert band.shape == (32, 32) and band.dtype == np.uint8 and band.max() == 0
    # views=6 train; val and test scale down from 60/10/20, at least one each
    assert counts == {"train": 6, "val": 1, "test": 2}
    resolved = load_scene_description(tiny / "scene.toml")
    assert (resolved.size, resolved.views.train, resolved.views.val, resolved.views.test) == (32, 6, 1, 2)


def test_resolved_description_round_trips(tiny):
    resolved = load_scene_description(tiny / "scene.toml")
    original = load_scene_description(SCENES_DIR / "default.toml")
    assert resolved.objects == original.objects
    assert (resolved.camera, resolved.light.ambient, resolved.seed) == (
        original.camera, original.light.ambient, original.seed)


def test_sphere_alpha_at_corners_and_centre(sphere):
    for split in ("train", "val", "test"):
        for k, _ in enumerate(json.loads((sphere / f"transforms_{split}.json").read_text())["frames"]):
            a = iio.imread(sphere / f"{split}/r_{k}.png")[..., 3]
            assert a[0, 0] == a[0, -1] == a[-1, 0] == a[-1, -1] == 0
            assert a[12, 12] == 255


def test_deterministic(tmp_path):
    a = make_scene(SCENES_DIR / "default.toml", tmp_path / "a", size=24, views=3, seed=7, progress=False)
    b = make_scene(SCENES_DIR / "default.toml", tmp_path / "b", size=24, views=3, seed=7, progress=False)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert len(files) > 10
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    c = make_scene(SCENES_DIR / "default.toml", tmp_path / "c", size=24, views=3, seed=8, progress=False)
    assert (a / "transforms_train.json").read_text() != (c / "transforms_train.json").read_text()


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


def test_band_images_name_the_grating_hit_at_pixel_centres(tmp_path):
    out = make_scene(SCENES_DIR / "spectral_ladder.toml", tmp_path / "ladder", size=20, views=1,
                     progress=False)
    desc = load_scene_description(SCENES_DIR / "spectral_ladder.toml")
    meta = json.loads((out / "transforms_train.json").read_text())
    assert [b["cycles_per_unit"] for b in meta["bands"]] == [1, 2, 4, 8, 16, 32, 64]
    assert [b["index"] for b in meta["bands"]] == list(range(7))
    frame = meta["frames"][0]
    band = iio.imread(out / frame["band_path"]).reshape(-1)
    o, d = _rays(frame, 20, 20, meta["camera_angle_x"])
    t, hit, _ = ray_hit(desc, o, d)
    assert np.array_equal(band > 0, hit)
    z = (o + np.where(hit, t, 0)[:, None] * d)[:, 2]
    slab = np.clip(np.floor((z[hit] + 0.28) / 0.08), 0, 6).astype(int)  # slabs stacked in z
    exact = np.abs((z[hit] + 0.28) / 0.08 - np.round((z[hit] + 0.28) / 0.08)) > 1e-6
    assert np.array_equal(band[hit][exact], slab[exact] + 1)


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


def test_tiny_scene_is_fast(tmp_path):
    import time

    start = time.perf_counter()
    make_tiny_scene(tmp_path / "t")
    assert time.perf_counter() - start < 4.0  # about 0.5 s on two cores


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
