"""nerfspec.synth.generate: make-scene's Blender output (layout, alpha, determinism, band images,
speed) and make-scene as a capture: nerfstudio layout, the same cameras as the Blender output,
lens distortion, opaque views on an environment, and one-line errors for impossible options."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from nerfspec.synth import SCENES_DIR, SceneError, load_scene_description, make_scene, make_tiny_scene, ray_hit
from nerfspec.synth.environment import environment, sky
from nerfspec.synth.generate import Photography
from tests.conftest import run_cli
from tests.test_raycast import _rays, sphere, tiny  # noqa: F401  (the module fixtures and a helper)

SIZE = 20


def render(out: Path, **photo) -> Path:
    return make_scene(SCENES_DIR / "default.toml", out, size=SIZE, views=3, progress=False,
                      photo=Photography(**photo) if photo else None)


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("gen")
    return render(base / "blender"), render(base / "capture", format="nerfstudio", alpha=False)


def test_capture_layout_and_the_blender_scenes_cameras(pair):
    blender, capture = pair
    meta = json.loads((capture / "transforms.json").read_text())
    assert meta["camera_model"] == "PINHOLE" and (meta["w"], meta["h"]) == (SIZE, SIZE)
    assert (meta["cx"], meta["cy"]) == (SIZE / 2, SIZE / 2) and meta["fl_x"] == meta["fl_y"]
    assert not (capture / "transforms_train.json").exists() and (capture / "mesh.ply").is_file()
    assert not list(capture.glob("images/*_band.png"))
    for split in ("train", "val", "test"):
        names = meta[f"{split}_filenames"]
        ours = [f for f in meta["frames"] if f["file_path"] in names]
        theirs = json.loads((blender / f"transforms_{split}.json").read_text())["frames"]
        assert names == [f"images/{split}_{k:04d}.png" for k in range(len(theirs))]
        for a, b in zip(ours, theirs):
            assert a["transform_matrix"] == b["transform_matrix"]


def test_opaque_views_are_the_rgba_views_composited_on_the_background(pair):
    blender, capture = pair
    for k in range(3):
        rgba = iio.imread(blender / f"train/r_{k}.png").astype(np.float64) / 255
        rgb = iio.imread(capture / f"images/train_{k:04d}.png")
        assert rgb.shape == (SIZE, SIZE, 3)
        expect = rgba[..., :3] * rgba[..., 3:] + (1 - rgba[..., 3:])  # white
        assert np.abs(rgb / 255 - expect).max() <= 1.5 / 255


def test_sky_background_is_the_environment_of_the_pixel_ray(tmp_path):
    out = render(tmp_path / "sky", format="nerfstudio", alpha=False, background="sky")
    meta = json.loads((out / "transforms.json").read_text())
    frame = meta["frames"][0]
    pose = np.asarray(frame["transform_matrix"])
    img = iio.imread(out / frame["file_path"]) / 255
    # the corner pixel misses the objects; its 2 x 2 samples see the sky around its ray
    f = meta["fl_x"]
    cam = np.array([(0.5 - SIZE / 2) / f, -(0.5 - SIZE / 2) / f, -1.0])
    d = pose[:3, :3] @ (cam / np.linalg.norm(cam))
    assert np.abs(img[0, 0] - sky(d[:, None])[:, 0]).max() < 0.02
    assert sky(np.array([[0.0], [0.0], [1.0]]))[:, 0].tolist() != sky(np.array([[0.0], [0.0], [-1.0]]))[:, 0].tolist()
    assert environment("black")(np.zeros((3, 4))).max() == 0.0


def test_distortion_moves_image_content_as_the_lens_model_says(tmp_path):
    """Barrel distortion (k1 < 0) pulls content towards the centre: the sphere, seen straight
    on, covers fewer pixels than through a pinhole, and the centre pixel is unchanged."""
    sphere = SCENES_DIR / "sphere.toml"
    kw = dict(size=25, views=1, progress=False)
    flat = make_scene(sphere, tmp_path / "flat", **kw, photo=Photography(format="nerfstudio", alpha=False,
                                                                         background="black"))
    barrel = make_scene(sphere, tmp_path / "barrel", **kw, photo=Photography(
        format="nerfstudio", lens_model="opencv", distortion=(-0.3, 0.0, 0.0, 0.0), alpha=False, background="black"))
    a = iio.imread(flat / "images/train_0000.png").astype(int)
    b = iio.imread(barrel / "images/train_0000.png").astype(int)
    assert np.array_equal(a[12, 12], b[12, 12])
    assert (b.sum(-1) > 0).sum() < (a.sum(-1) > 0).sum()
    meta = json.loads((barrel / "transforms.json").read_text())
    assert (meta["camera_model"], meta["k1"], meta["p2"]) == ("OPENCV", -0.3, 0.0)


@pytest.mark.parametrize("photo,message", [
    (dict(lens_model="opencv", distortion=(0.1, 0, 0, 0)), "the Blender format has only pinhole cameras"),
    (dict(format="nerfstudio", lens_model="opencv", distortion=(0.1, 0.2)), "takes the coefficients k1, k2, p1, p2, k3, got 2"),
    (dict(format="nerfstudio", lens_model="opencv_fisheye", distortion=(0.1, 0, 0, 0, 0)), "got 5 numbers"),
    (dict(format="colmap"), "format must be one of blender, nerfstudio"),
    (dict(image_format="jpg"), "JPEG images have no alpha"),
    (dict(alpha=False, background="grass"), "background must be one of white, black, sky"),
    (dict(format="nerfstudio", lens_model="opencv", distortion=(-2.0, 0, 0, 0)), "folds over inside the image"),
])
def test_impossible_photography_is_a_scene_error(tmp_path, photo, message):
    with pytest.raises(SceneError, match=message):
        render(tmp_path / "x", **photo)


def test_cli_options_and_their_errors(tmp_path):
    def cli(*args):  # through the entry point, in this process
        return run_cli("make-scene", SCENES_DIR / "sphere.toml", tmp_path / "out", "--size", "12", "--views", "1",
                       *args)

    # the console entry point once, as a user runs it
    ok = subprocess.run([sys.executable, "-m", "nerfspec", "make-scene", str(SCENES_DIR / "sphere.toml"),
                         str(tmp_path / "out"), "--size", "12", "--views", "1", "--format", "nerfstudio",
                         "--distortion=-0.1,0.01,0,0", "--no-alpha", "--background", "sky", "--image-format", "jpg"],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    meta = json.loads((tmp_path / "out/transforms.json").read_text())
    assert meta["camera_model"] == "OPENCV" and meta["frames"][0]["file_path"].endswith(".jpg")
    for args, message in [(("--background", "sky"), "add --no-alpha"),
                          (("--format", "nerfstudio", "--distortion=a,b"), "--distortion: distortion must be"),
                          (("--distortion=0.1,0,0,0",), "the Blender format has only pinhole cameras"),
                          (("--format", "nerfstudio", "--camera-model", "fov"), "camera model must be one of")]:
        proc = cli(*args)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        last = proc.stderr.strip().splitlines()[-1]
        assert last.startswith("error: ") and message in last, last


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


def test_tiny_scene_is_fast(tmp_path):
    import time

    start = time.perf_counter()
    make_tiny_scene(tmp_path / "t")
    assert time.perf_counter() - start < 4.0  # about 0.5 s on two cores
