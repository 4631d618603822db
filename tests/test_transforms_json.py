"""nerfspec.data.transforms_json: a capture's file parsed and validated: split lists, a byte-order
mark, intrinsics as nerfstudio and instant-ngp complete them, one-line errors for bad files, and
frames whose images are missing (data.missing_images)."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from nerfspec.data.dataset import load_split
from nerfspec.data.transforms_json import intrinsics, parse_capture, split_indices
from nerfspec.errors import DatasetError
from tests.conftest import edited
from tests.test_capture import SIZE, capture, data, tree_hash  # noqa: F401  (the module fixture and helpers)

pytestmark = pytest.mark.usefixtures("private_cache")


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


def frame_intrinsics(top: dict, frame: dict | None = None, size=(40, 30)):
    """Intrinsics of a one-frame file with these top-level and frame keys."""
    from nerfspec.data.capture_intrinsics import check_intrinsic_values as _check_intrinsic_values
    from nerfspec.data.transforms_json import CaptureSpec, FrameSpec

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


def without_images(capture, tmp_path, count: int):  # noqa: F811
    import shutil

    dst = tmp_path / "holes"
    shutil.copytree(capture, dst)
    gone = sorted((dst / "images").glob("train_*.png"))[:count]
    for p in gone:
        p.unlink()
    return dst, gone


def test_missing_images_are_an_error_naming_the_count_and_the_setting(capture, tmp_path):  # noqa: F811
    root, gone = without_images(capture, tmp_path, 3)
    with pytest.raises(DatasetError) as err:
        load_split(data(root), "train")
    msg = str(err.value)
    assert "3 of 12 frames" in msg and 'data.missing_images = "skip"' in msg and gone[0].name in msg
    assert "\n" not in msg


def test_missing_images_skipped_with_one_warning(capture, tmp_path, capsys):  # noqa: F811
    root, gone = without_images(capture, tmp_path, 3)
    full = load_split(data(capture), "train")
    cfg = data(root, missing_images="skip")
    train = load_split(cfg, "train")
    test = load_split(cfg, "test")
    assert train.images.shape[0] == full.images.shape[0] - 3
    assert test.images.shape[0] == load_split(data(capture), "test").images.shape[0]
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "skipping 3 of 12 frames" in warnings[0]


def test_every_image_missing_is_an_error_even_when_skipping(capture, tmp_path):  # noqa: F811
    root, _ = without_images(capture, tmp_path, 8)
    for p in (root / "images").glob("*.png"):
        p.unlink()
    with pytest.raises(DatasetError, match="12 of 12 frames"):
        load_split(data(root, missing_images="skip"), "train")
