"""Captures (one transforms.json, nerfstudio / instant-ngp): parsing, intrinsics, lens models,
EXIF orientation, masks, cached downscaling, splits, and one-line errors for bad files."""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from nerfspec.config import DataConfig
from nerfspec.synth import raycast
from nerfspec.data.capture import load_capture_split
from nerfspec.data.capture_images import apply_orientation, cache_root
from nerfspec.data.dataset import is_capture, load_split, resolve_data
from nerfspec.synth.generate import Photography
from nerfspec.synth import SCENES_DIR, make_scene
from nerfspec.data.capture_layout import find_capture_file
from nerfspec.data.transforms_json import intrinsics, parse_capture, split_indices
from nerfspec.errors import DatasetError
from nerfspec.lens import pixel_directions
from tests.conftest import edited

RADTAN = (-0.12, 0.03, 0.001, -0.0005)
SIZE = 24


def make_capture(out: Path, **photo) -> Path:
    options = dict(format="nerfstudio", lens_model="opencv", distortion=RADTAN, alpha=False, background="sky")
    options.update(photo)
    return make_scene(SCENES_DIR / "default.toml", out, size=SIZE, views=8, progress=False,
                      photo=Photography(**options))


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> Path:
    return make_capture(tmp_path_factory.mktemp("capture") / "cap")


pytestmark = pytest.mark.usefixtures("private_cache")


def data(root: Path, **values) -> DataConfig:
    d = DataConfig(root=str(root), **values)
    d.validate()
    return d


def tree_hash(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


# -- detection, parsing, splits ---------------------------------------------------------------

def test_a_folder_with_one_transforms_json_is_a_capture(capture, tiny_scene):
    assert is_capture(capture) and find_capture_file(capture) == capture / "transforms.json"
    assert is_capture(capture / "transforms.json")
    assert not is_capture(tiny_scene) and not is_capture(tiny_scene / "transforms_train.json")


def test_generated_capture_loads_with_its_splits(capture):
    meta = json.loads((capture / "transforms.json").read_text())
    assert meta["camera_model"] == "OPENCV" and [meta[k] for k in ("k1", "k2", "p1", "p2")] == list(RADTAN)
    train = load_split(data(capture), "train")
    assert train.images.shape == (8, SIZE, SIZE, 4) and train.images.dtype == torch.uint8
    assert (train.images[..., 3] == 255).all()  # photos have no alpha
    assert train.model == "opencv" and train.distortion.shape == (8, 5)
    torch.testing.assert_close(train.distortion[0], torch.tensor([*RADTAN, 0.0]))
    focal = 0.5 * SIZE / math.tan(0.5 * 0.6911112070083618)
    assert train.fx.tolist() == pytest.approx([focal] * 8) and train.cx.tolist() == [SIZE / 2] * 8
    assert [p.name for p in train.image_paths] == [f"train_{k:04d}.png" for k in range(8)]
    assert len(load_split(data(capture), "val")) == 1 and len(load_split(data(capture), "test")) == 3


def test_poses_normalisation_of_a_generated_scene_is_the_identity(capture):
    # cameras at radius 4 looking at the origin, +z up: already the scene frame
    split = load_split(data(capture), "train")
    torch.testing.assert_close(split.transform, torch.eye(4, dtype=torch.float64), atol=1e-9, rtol=0)
    assert resolve_data_transform(capture) == pytest.approx(np.eye(4).reshape(-1).tolist(), abs=1e-9)


def resolve_data_transform(root: Path) -> list[float]:
    from nerfspec.config import config_from_dict

    return resolve_data(config_from_dict({"data": {"root": str(root)}})).data.transform


def test_loaded_rays_match_the_generators_rays(capture):
    """Pixel-centre rays from the loaded cameras (undistorted pixel coordinates, in the scene
    frame, mapped back to the file's world) equal the rays the generator rendered with."""
    meta = json.loads((capture / "transforms.json").read_text())
    frames = {f["file_path"]: np.asarray(f["transform_matrix"]) for f in meta["frames"]}
    split = load_split(data(capture, normalize="none"), "train")
    focal = meta["fl_x"]
    cam = raycast.camera_sample_dirs(SIZE, focal, 1, True, ("opencv", RADTAN))  # s = 1: pixel centres
    j, i = torch.meshgrid(torch.arange(SIZE), torch.arange(SIZE), indexing="ij")
    for k, path in enumerate(split.image_paths):
        pose = frames[f"images/{path.name}"]
        expect = (pose[:3, :3] @ cam).T
        d, ok = pixel_directions(split.model, i.reshape(-1).double(), j.reshape(-1).double(),
                                 split.fx[k].double(), split.fy[k].double(), split.cx[k].double(),
                                 split.cy[k].double(), split.distortion[k].double())
        got = d @ split.poses[k, :3, :3].double().T
        assert ok.all() and float(np.abs(got.numpy() - expect).max()) < 1e-4
        assert float(np.abs(split.poses[k, :3, 3].numpy() - pose[:3, 3]).max()) < 1e-5


@pytest.mark.parametrize("model,coeffs", [("opencv", RADTAN), ("opencv_fisheye", (0.05, -0.01, 0.002, 0.0))])
def test_cameras_rays_and_project_through_the_lens(tmp_path, model, coeffs):
    """Cameras of a loaded capture: every pixel's ray (in the scene frame) is the generator's
    ray, and projecting points along those rays lands back on the pixels."""
    root = make_capture(tmp_path / model, lens_model=model, distortion=coeffs)
    meta = json.loads((root / "transforms.json").read_text())
    frames = {f["file_path"]: np.asarray(f["transform_matrix"]) for f in meta["frames"]}
    split = load_split(data(root), "train")
    cams = split.cameras
    assert cams.model == model and cams.distortion.shape == (8, len(coeffs) + (model == "opencv"))
    cam = raycast.camera_sample_dirs(SIZE, meta["fl_x"], 1, True, (model, coeffs))
    t = split.transform.numpy()
    for k in (0, 5):
        origins, dirs = cams.image_rays(k)
        pose = frames[f"images/{split.image_paths[k].name}"]
        expect = (t[:3, :3] @ pose[:3, :3] @ cam).T  # the generator's rays, turned into the scene frame
        expect /= np.linalg.norm(expect, axis=1, keepdims=True)
        assert float(np.abs(dirs.double().numpy() - expect).max()) < 1e-4
        points = origins + 2.5 * dirs
        i, j, depth = cams.project(points, k)
        j_grid, i_grid = torch.meshgrid(torch.arange(SIZE), torch.arange(SIZE), indexing="ij")
        assert float((i - i_grid.reshape(-1)).abs().max()) < 1e-3 and float((j - j_grid.reshape(-1)).abs().max()) < 1e-3
        assert (depth > 0).all()


def test_check_data_summarises_both_layouts(capture, tiny_scene, capsys):
    from nerfspec.cli import main

    assert main(["check-data", str(capture), "--set", "data.downscale=2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "train: 8 views, 12x12, fx 16.67 px, opencv (-0.12, 0.03, 0.001, -0.0005, 0)"
    assert out[1].startswith("val: 1 view, 12x12") and out[2].startswith("test: 3 views")
    assert out[3].startswith("world -> scene: 1.0000 0.0000 0.0000 0.0000; 0.0000 1.0000")
    assert main(["check-data", str(tiny_scene)]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "train: 20 views, 32x32, fx 44.44 px, pinhole"


def test_split_lists_and_the_every_eighth_rule(capture, tmp_path):
    spec = parse_capture(capture / "transforms.json")
    names = [spec.frames[k].name for k in split_indices(spec, "test", 8)]
    assert names == [f"images/test_{k:04d}.png" for k in range(3)]

    def drop_lists(meta):
        for key in ("train_filenames", "val_filenames", "test_filenames"):
            meta.pop(key)
    root = edited(capture, tmp_path, drop_lists)
    spec = parse_capture(root / "transforms.json")
    assert len(spec.frames) == 12
    assert split_indices(spec, "test", 8) == [0, 8] == split_indices(spec, "val", 8)
    assert split_indices(spec, "train", 8) == [k for k in range(12) if k not in (0, 8)]
    assert split_indices(spec, "test", 3) == [0, 3, 6, 9]


def test_byte_order_mark_is_read_not_refused(capture, tiny_scene, tmp_path):
    root = tmp_path / "bom"
    shutil.copytree(capture, root)
    text = (root / "transforms.json").read_bytes()
    (root / "transforms.json").write_bytes(b"\xef\xbb\xbf" + text)
    assert len(load_split(data(root), "train")) == 8
    blender = tmp_path / "bom_blender"
    shutil.copytree(tiny_scene, blender)
    for split in ("train", "val", "test"):
        p = blender / f"transforms_{split}.json"
        p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes())
    assert len(load_split(data(blender), "train")) == 20


# -- intrinsics variants ------------------------------------------------------------------------

def frame_intrinsics(top: dict, frame: dict | None = None, size=(40, 30)):
    """Intrinsics of a one-frame file with these top-level and frame keys."""
    from nerfspec.data.transforms_json import CaptureSpec, FrameSpec, _check_intrinsic_values

    _check_intrinsic_values(Path("/x.json"), "", top)
    values = {**top, **(frame or {})}
    f = FrameSpec(0, "a.png", Path("/a.png"), np.eye(4), None, values, bool(frame))
    spec = CaptureSpec(Path("/x.json"), [f], None, None, {})
    return intrinsics(spec, f, size)


def test_intrinsics_fall_back_as_nerfstudio_and_instant_ngp_do():
    v = frame_intrinsics({"fl_x": 50.0, "w": 40, "h": 30})
    assert (v.fx, v.fy, v.cx, v.cy, v.model) == (50.0, 50.0, 20.0, 15.0, "pinhole")
    v = frame_intrinsics({"camera_angle_x": 2 * math.atan(0.5)})  # f = 0.5 w / tan(0.5 fov) = w
    assert v.fx == pytest.approx(40.0) and v.fy == pytest.approx(40.0)
    v = frame_intrinsics({"camera_angle_x": 2 * math.atan(0.5), "camera_angle_y": 2 * math.atan(0.25)})
    assert v.fy == pytest.approx(60.0)  # 0.5 h / 0.25
    v = frame_intrinsics({"fl_x": 50.0, "fl_y": 52.0, "cx": 19.5, "cy": 14.0}, {"fl_x": 45.0, "cx": 21.0})
    assert (v.fx, v.fy, v.cx, v.cy) == (45.0, 52.0, 21.0, 14.0)  # the frame's own values win
    v = frame_intrinsics({"fl_x": 50.0, "k1": 0.1, "p2": 0.01})  # no camera_model: OPENCV when distorted
    assert v.model == "opencv" and v.coeffs == (0.1, 0.0, 0.0, 0.01, 0.0)
    v = frame_intrinsics({"fl_x": 50.0, "camera_model": "OPENCV", "k1": 0.0})
    assert v.model == "pinhole"  # an undistorted OPENCV camera is a pinhole
    v = frame_intrinsics({"fl_x": 50.0, "is_fisheye": True, "k1": 0.1, "k4": -0.01})
    assert v.model == "opencv_fisheye" and v.coeffs == (0.1, 0.0, 0.0, -0.01)
    v = frame_intrinsics({"fl_x": 50.0, "camera_model": "OPENCV_FISHEYE", "k2": 0.2})
    assert v.model == "opencv_fisheye" and v.coeffs == (0.0, 0.2, 0.0, 0.0)
    assert frame_intrinsics({"fl_x": 50.0}, size=(82, 60)).scaled(4) == type(v)(12.5, 12.5, 10.25, 7.5, 20, 15)


@pytest.mark.parametrize("top,frame,message", [
    ({"w": 40, "h": 30}, None, "no focal length: needs 'fl_x' or 'camera_angle_x'"),
    ({"fl_x": 50.0, "w": 41, "h": 30}, None, "image is 40x30 but the file gives w x h = 41x30"),
    ({"fl_x": 50.0, "camera_model": "OPENCV", "k4": 0.1}, None, "k4 is not a coefficient of OPENCV"),
    ({"fl_x": 50.0, "camera_model": "OPENCV_FISHEYE", "p1": 0.1}, None, "p1 is not a coefficient of OPENCV_FISHEYE"),
    ({"fl_x": 50.0, "camera_model": "PINHOLE", "k1": 0.1}, None, "PINHOLE has no distortion, but k1 is set"),
])
def test_incomplete_or_contradictory_intrinsics_are_refused(top, frame, message):
    with pytest.raises(DatasetError, match=message.replace("(", r"\(").replace(")", r"\)")):
        frame_intrinsics(top, frame)


# -- bad files: one line, exit code 2 -----------------------------------------------------------

BAD_FILES = {
    "missing intrinsics": (lambda m: [m.pop(k) for k in ("fl_x", "fl_y")], "no focal length"),
    "unknown model": (lambda m: m.update(camera_model="EQUIRECTANGULAR"), "camera_model 'EQUIRECTANGULAR' is not supported"),
    "negative focal": (lambda m: m.update(fl_x=-100.0), "'fl_x' must be > 0, got -100.0"),
    "nan focal": (lambda m: m.update(fl_y=float("nan")), "'fl_y' must be a finite number"),
    "zero width": (lambda m: m.update(w=0), "'w' must be > 0"),
    "fractional height": (lambda m: m.update(h=23.5), "'h' must be a whole number of pixels"),
    "bad fov": (lambda m: [m.pop("fl_x"), m.update(camera_angle_x=4.0)], "'camera_angle_x' must be an angle in (0, pi)"),
    "two models": (lambda m: m["frames"][3].update(camera_model="OPENCV_FISHEYE"), "more than one lens model"),
    "unknown split file": (lambda m: m["test_filenames"].append("images/nope.png"), "names 'images/nope.png'"),
    "no train list": (lambda m: m.pop("train_filenames"), "has no 'train_filenames'"),
    "folding lens": (lambda m: m.update(k1=-2.0, k2=0.0), "folds over inside the 24x24 image"),
    "not a rigid pose": (lambda m: m["frames"][0]["transform_matrix"][0].__setitem__(0, 3.0), "not a rigid"),
    "bad applied_transform": (lambda m: m.update(applied_transform=[[1, 0], [0, 1]]), "'applied_transform' must be a 3x4 or 4x4"),
    "bad mask path": (lambda m: m["frames"][0].update(mask_path=7), "mask_path must be a non-empty string"),
    "missing image": (lambda m: [m["frames"][0].update(file_path="images/gone.png"),
                                 m["train_filenames"].__setitem__(0, "images/gone.png")], "1 of 12 frames name image files that are not there"),
    "no frames": (lambda m: m.update(frames=[]), "'frames' must be a non-empty list"),
    "bad offset": (lambda m: m.update(offset=[0.5, 0.5]), "'offset' must be a list of 3 numbers"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_capture_is_a_one_line_error_naming_the_file(capture, tmp_path, case):
    edit, message = BAD_FILES[case]
    root = edited(capture, tmp_path, edit)
    before = tree_hash(root)
    with pytest.raises(DatasetError) as info:
        load_split(data(root), "train")
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(str(root)), msg
    assert message in msg, msg
    assert tree_hash(root) == before


@pytest.mark.parametrize("case", ["missing intrinsics", "unknown model", "negative focal", "folding lens"])
def test_bad_capture_through_the_cli_is_one_line_exit_2(capture, tmp_path, capsys, case):
    from nerfspec.cli import main

    edit, message = BAD_FILES[case]
    root = edited(capture, tmp_path, edit)
    assert main(["check-data", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {root}") and message in err and err.count("\n") == 1, err


def test_console_script_names_a_bad_mask_without_a_traceback(capture, tmp_path):
    root = edited(capture, tmp_path, lambda m: m["frames"][0].update(mask_path="masks/m.png"))
    (root / "masks").mkdir()
    iio.imwrite(root / "masks/m.png", np.zeros((SIZE - 4, SIZE), np.uint8))
    proc = subprocess.run([sys.executable, "-m", "nerfspec", "check-data", str(root)], capture_output=True,
                          text=True, env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "c")})
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (f"error: {root}/masks/m.png: mask is 24x20 but its image "
                                                    "is 24x24 (frame 0 of transforms.json)")


def test_frames_of_different_sizes_sharing_one_principal_point_are_refused(capture, tmp_path):
    root = tmp_path / "sizes"
    shutil.copytree(capture, root)
    meta = json.loads((root / "transforms.json").read_text())
    for key in ("w", "h"):
        meta.pop(key)  # the size then comes from each image
    (root / "transforms.json").write_text(json.dumps(meta))
    img = iio.imread(root / "images/train_0003.png")
    iio.imwrite(root / "images/train_0003.png", img[:20])
    with pytest.raises(DatasetError, match=r"different image sizes \(images/train_0000.png is 24x24, "
                                           r"images/train_0003.png is 24x20\) and share the top-level cx, cy"):
        load_split(data(root), "train")


# -- masks, image kinds, EXIF, cache -------------------------------------------------------------

def test_masks_are_written_into_alpha(capture, tmp_path):
    root = tmp_path / "masked"
    shutil.copytree(capture, root)
    meta = json.loads((root / "transforms.json").read_text())
    (root / "masks").mkdir()
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[4:20, 6:18] = 255
    iio.imwrite(root / "masks/m0.png", mask)
    meta["frames"][0]["mask_path"] = "masks/m0.png"
    (root / "transforms.json").write_text(json.dumps(meta))
    split = load_split(data(root), "train")
    name = meta["frames"][0]["file_path"]
    k = [f"images/{p.name}" for p in split.image_paths].index(name)
    assert torch.equal(split.images[k, ..., 3], torch.from_numpy(mask))
    assert (split.images[k - 1 if k else k + 1, ..., 3] == 255).all()
    iio.imwrite(root / "masks/m0.png", mask[:, :20])
    with pytest.raises(DatasetError, match=r"mask is 20x24 but its image is 24x24"):
        load_split(data(root), "train")


def test_jpeg_capture_loads(tmp_path):
    root = make_capture(tmp_path / "jpg", image_format="jpg")
    split = load_split(data(root), "train")
    assert split.image_paths[0].suffix == ".jpg" and (split.images[..., 3] == 255).all()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientations_match_the_image_library(tmp_path, orientation):
    from PIL import Image

    img = np.random.default_rng(orientation).integers(0, 255, (6, 10, 3), dtype=np.uint8)
    path = tmp_path / "o.png"
    pil = Image.fromarray(img)
    exif = pil.getexif()
    exif[0x0112] = orientation
    pil.save(path, exif=exif.tobytes())
    shown = np.asarray(iio.imread(path, rotate=True))
    assert np.array_equal(apply_orientation(img, orientation), shown)


def _with_orientation(path: Path, orientation: int) -> None:
    from PIL import Image

    pil = Image.open(path)
    pil.load()
    exif = pil.getexif()
    exif[0x0112] = orientation
    pil.save(path, exif=exif.tobytes())


def test_exif_orientation_is_applied_ignored_or_refused(capture, tmp_path):
    # the generated images are square, so w x h fits both readings: refused, with the fix named
    root = tmp_path / "exif"
    shutil.copytree(capture, root)
    _with_orientation(root / "images/train_0002.png", 6)
    with pytest.raises(DatasetError, match=r"EXIF orientation 6 \(turned 90 degrees clockwise\) is ambiguous.*"
                                           r"data.exif_orientation"):
        load_split(data(root), "train")
    stored = iio.imread(root / "images/train_0002.png")
    ignored = load_split(data(root, exif_orientation="ignore"), "train")
    applied = load_split(data(root, exif_orientation="apply"), "train")
    assert np.array_equal(ignored.images[2, ..., :3].numpy(), stored)
    assert np.array_equal(applied.images[2, ..., :3].numpy(), np.rot90(stored, k=-1))
    # a non-square photo whose displayed size is what the file says: applied by "auto"
    wide = tmp_path / "wide"
    shutil.copytree(capture, wide)
    meta = json.loads((wide / "transforms.json").read_text())
    meta.update(w=SIZE, h=SIZE - 8)
    (wide / "transforms.json").write_text(json.dumps(meta))
    for p in (wide / "images").glob("*.png"):
        iio.imwrite(p, np.ascontiguousarray(np.rot90(iio.imread(p)[:SIZE - 8], k=1)))  # stored sideways
        _with_orientation(p, 6)
    split = load_split(data(wide), "train")
    assert split.images.shape[1:3] == (SIZE - 8, SIZE)
    # and one whose stored size is what the file says: kept as stored
    meta.update(w=SIZE - 8, h=SIZE)
    (wide / "transforms.json").write_text(json.dumps(meta))
    assert load_split(data(wide), "train").images.shape[1:3] == (SIZE, SIZE - 8)


def test_downscale_is_cached_and_never_writes_the_input(capture, tmp_path):
    root = tmp_path / "cached"
    shutil.copytree(capture, root)
    before = tree_hash(root)
    first = load_split(data(root, downscale=2), "train")
    assert first.images.shape == (8, SIZE // 2, SIZE // 2, 4)
    assert first.fx[0].item() == pytest.approx(load_split(data(root), "train").fx[0].item() / 2)
    cached = sorted(cache_root().glob("*.png"))
    assert len(cached) == 8
    assert torch.equal(load_split(data(root, downscale=2), "train").images, first.images)
    # an edited photo is read again, not taken from the cache
    p = root / "images/train_0000.png"
    iio.imwrite(p, np.zeros((SIZE, SIZE, 3), np.uint8))
    again = load_split(data(root, downscale=2), "train")
    assert (again.images[0, ..., :3] == 0).all() and len(list(cache_root().glob("*.png"))) == 9
    assert tree_hash(root) == {**before, "images/train_0000.png": tree_hash(root)["images/train_0000.png"]}


def test_aabb_scale_normalisation(capture, tmp_path):
    root = edited(capture, tmp_path, lambda m: m.update(aabb_scale=4, scale=0.5, offset=[0.5, 0.6, 0.7]))
    split = load_split(data(root, normalize="aabb_scale", aabb=[-1.0, -1.0, -1.0, 1.0, 1.0, 1.0]), "train")
    # k = 2 / 4; p = k (0.5 p + offset') - 0.5 k with offset' = (0.7, 0.5, 0.6) (instant-ngp's axis order)
    expect = torch.tensor([[0.25, 0, 0, 0.1], [0, 0.25, 0, 0.0], [0, 0, 0.25, 0.05], [0, 0, 0, 1]], dtype=torch.float64)
    torch.testing.assert_close(split.transform, expect)
