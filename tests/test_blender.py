import json
import shutil
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from nerfspec.cli import main
from nerfspec.data.blender import composite, downscale_rgba, load_blender_split


@pytest.fixture
def scene(tiny_scene, tmp_path):
    """A private copy of the tiny scene that a test may break."""
    dst = tmp_path / "scene"
    shutil.copytree(tiny_scene, dst)
    return dst


def test_loads_generated_scene(tiny_scene):
    split = load_blender_split(tiny_scene, "train")
    meta = json.loads((tiny_scene / "transforms_train.json").read_text())
    assert split.images.shape == (len(meta["frames"]), 32, 32, 4) and split.images.dtype == torch.uint8
    assert split.focal == pytest.approx(0.5 * 32 / np.tan(0.5 * meta["camera_angle_x"]))
    torch.testing.assert_close(split.poses[0], torch.tensor(meta["frames"][0]["transform_matrix"]).float())
    half = load_blender_split(tiny_scene, "train", downscale=2)
    assert half.images.shape[1:3] == (16, 16) and half.focal == pytest.approx(split.focal / 2)


def test_composite_and_downscale():
    rgba = torch.tensor([[1.0, 0.0, 0.0, 0.25]])
    torch.testing.assert_close(composite(rgba, torch.ones(3)), torch.tensor([[1.0, 0.75, 0.75]]))
    img = np.zeros((2, 2, 4), np.uint8)
    img[0, 0] = [255, 0, 0, 255]  # one red opaque pixel among transparent black ones
    out = downscale_rgba(img, 2)
    assert out.shape == (1, 1, 4) and out[0, 0, 0] == 255 and out[0, 0, 3] == 64


def edit_json(root, fn):
    p = root / "transforms_train.json"
    meta = json.loads(p.read_text())
    fn(meta)
    p.write_text(json.dumps(meta))


def first_image(root):
    return root / (json.loads((root / "transforms_train.json").read_text())["frames"][0]["file_path"] + ".png")


BREAKS = {
    "missing json": (lambda r: (r / "transforms_train.json").unlink(), "file not found"),
    "bad json": (lambda r: (r / "transforms_train.json").write_text("{oops"), "not valid JSON"),
    "json not object": (lambda r: (r / "transforms_train.json").write_text("[1, 2]"), "top level"),
    "no fov": (lambda r: edit_json(r, lambda m: m.pop("camera_angle_x")), "camera_angle_x"),
    "empty split": (lambda r: edit_json(r, lambda m: m.update(frames=[])), "non-empty"),
    "frame lacks matrix": (lambda r: edit_json(r, lambda m: m["frames"][0].pop("transform_matrix")), "frame 0"),
    "wrong matrix shape": (lambda r: edit_json(r, lambda m: m["frames"][1].update(transform_matrix=[[1, 0, 0], [0, 1, 0], [0, 0, 1]])), "shape (3, 3)"),
    "non-finite pose": (lambda r: edit_json(r, lambda m: m["frames"][0]["transform_matrix"][0].__setitem__(3, float("nan"))), "non-finite"),
    "non-rigid pose": (lambda r: edit_json(r, lambda m: m["frames"][0]["transform_matrix"][0].__setitem__(0, 3.0)), "not a rigid"),
    "missing image": (lambda r: first_image(r).unlink(), "image file not found"),
    "unreadable image": (lambda r: first_image(r).write_bytes(b"not a png"), "cannot read image"),
    "image size differs": (lambda r: iio.imwrite(first_image(r), np.zeros((16, 16, 4), np.uint8)), "16x16"),
    "missing folder": (lambda r: shutil.rmtree(r), "not found"),
}


@pytest.mark.parametrize("case", list(BREAKS), ids=list(BREAKS))
def test_bad_dataset_is_one_line_error_exit_2(scene, tmp_path, capsys, case):
    breaker, needle = BREAKS[case]
    breaker(scene)
    code = main(["train", "--data", str(scene), "--name", "bad", "--max-steps", "1",
                 "--set", f"output_dir={str(tmp_path / 'out')!r}"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("error: ") and "\n" not in err and needle in err, err
    assert not (tmp_path / "out" / "bad" / "checkpoints").exists()


def test_rgb_without_alpha_is_accepted_and_said(scene, capsys):
    path = first_image(scene)
    iio.imwrite(path, iio.imread(path)[..., :3])
    split = load_blender_split(scene, "train")
    assert (split.images[0, ..., 3] == 255).all()
    assert "without alpha" in capsys.readouterr().err


def test_console_script_prints_no_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "nerfspec", "eval", str(tmp_path / "nope")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error:") and "Traceback" not in proc.stderr
