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
def test_bad_dataset_is_one_line_error_exit_2(scene, tmp_path, capsys, case, breaks=BREAKS):
    breaker, needle = breaks[case]
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


# -- more malformed datasets: each a one-line error naming the file, exit code 2 ------------------

def frames_of(root):
    return json.loads((root / "transforms_train.json").read_text())["frames"]


def add_band(meta, path):
    meta["frames"][0]["band_path"] = path


MORE_BREAKS = {
    "same image twice": (lambda r: edit_json(r, lambda m: m["frames"][1].update(file_path=m["frames"][0]["file_path"])),
                         "frames 0 and 1 both use r_0.png"),
    "frame without image on disk": (lambda r: edit_json(r, lambda m: m["frames"].append(
        {**m["frames"][0], "file_path": "./train/r_999"})), "r_999.png: image file not found"),
    "fov is a string": (lambda r: edit_json(r, lambda m: m.update(camera_angle_x="0.69")), "'camera_angle_x' must be a number"),
    "fov is a bool": (lambda r: edit_json(r, lambda m: m.update(camera_angle_x=True)), "'camera_angle_x' must be a number"),
    "fov is NaN": (lambda r: edit_json(r, lambda m: m.update(camera_angle_x=float("nan"))), "camera_angle_x"),
    "fov too wide": (lambda r: edit_json(r, lambda m: m.update(camera_angle_x=4.0)), "(0, pi)"),
    "frames not a list": (lambda r: edit_json(r, lambda m: m.update(frames={"a": 1})), "'frames' must be a non-empty list"),
    "frame not an object": (lambda r: edit_json(r, lambda m: m["frames"].__setitem__(0, 5)), "frame 0 needs 'file_path'"),
    "file_path not a string": (lambda r: edit_json(r, lambda m: m["frames"][2].update(file_path=3)), "frame 2 file_path"),
    "file_path empty": (lambda r: edit_json(r, lambda m: m["frames"][0].update(file_path="")), "frame 0 file_path"),
    "matrix of strings": (lambda r: edit_json(r, lambda m: m["frames"][0].update(transform_matrix=[["a"] * 4] * 4)),
                          "not a numeric matrix"),
    "ragged matrix": (lambda r: edit_json(r, lambda m: m["frames"][0]["transform_matrix"][1].pop()), "frame 0 transform_matrix"),
    "infinite pose": (lambda r: edit_json(r, lambda m: m["frames"][3]["transform_matrix"][2].__setitem__(3, float("inf"))),
                      "frame 3 transform_matrix has non-finite"),
    "projective last row": (lambda r: edit_json(r, lambda m: m["frames"][0]["transform_matrix"][3].__setitem__(0, 0.5)),
                            "not a rigid"),
    "mirrored pose": (lambda r: edit_json(r, lambda m: m["frames"][0].update(transform_matrix=[
        [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 4], [0, 0, 0, 1.5]])), "not a rigid"),
    "empty image file": (lambda r: first_image(r).write_bytes(b""), "cannot read image"),
    "truncated png": (lambda r: first_image(r).write_bytes(first_image(r).read_bytes()[:60]), "cannot read image"),
    "image is a folder": (lambda r: (first_image(r).unlink(), first_image(r).mkdir()), "is a folder"),
    "json not utf-8": (lambda r: (r / "transforms_train.json").write_bytes(b"\xff\xfe{\x00"), "not valid JSON"),
    "bands not a list": (lambda r: edit_json(r, lambda m: m.update(bands=3)), "'bands' must be a list"),
    "band image missing": (lambda r: edit_json(r, lambda m: add_band(m, "./train/nope_band")), "band image file not found"),
    "band image wrong size": (lambda r: (iio.imwrite(r / "train" / "b_band.png", np.zeros((8, 8), np.uint8)),
                                         edit_json(r, lambda m: add_band(m, "./train/b_band"))), "band image must be 32x32"),
}


@pytest.mark.parametrize("case", list(MORE_BREAKS), ids=list(MORE_BREAKS))
def test_more_bad_datasets_are_one_line_errors_exit_2(scene, tmp_path, capsys, case):
    test_bad_dataset_is_one_line_error_exit_2(scene, tmp_path, capsys, case, MORE_BREAKS)


def test_downscale_leaving_no_pixels_is_an_error(scene, tmp_path, capsys):
    code = main(["train", "--data", str(scene), "--max-steps", "1", "--set", "data.downscale=64",
                 "--set", f"output_dir={str(tmp_path / 'out')!r}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: ") and "leaves no pixels" in err and "\n" not in err


# -- unusual but usable images: accepted, and said once --------------------------------------------

def write_png16(path, img16):
    """A 16-bit PNG (grey, grey+alpha, RGB or RGBA) written by hand: Pillow cannot write 16-bit colour."""
    import struct
    import zlib

    h, w = img16.shape[:2]
    c = 1 if img16.ndim == 2 else img16.shape[2]
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    rows = img16.reshape(h, w * c).astype(">u2").tobytes()
    raw = b"".join(b"\x00" + rows[y * w * c * 2:(y + 1) * w * c * 2] for y in range(h))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_jpeg_images_are_opaque_and_said_once(scene, capsys):
    def to_jpeg(meta):
        for k, frame in enumerate(meta["frames"]):
            png = scene / (frame["file_path"] + ".png")
            iio.imwrite(png.with_suffix(".jpg"), iio.imread(png)[..., :3], quality=95)
            png.unlink()
            if k % 2:  # an explicit suffix, or none (then .png, .jpg, .jpeg are tried)
                frame["file_path"] += ".jpg"

    edit_json(scene, to_jpeg)
    original = load_blender_split(scene, "test")  # other splits are untouched
    split = load_blender_split(scene, "train")
    assert split.images.shape[1:] == (32, 32, 4) and (split.images[..., 3] == 255).all()
    assert all(p.suffix == ".jpg" for p in split.image_paths) and len(original)
    err = capsys.readouterr().err
    assert err.count("JPEG images have no alpha") == 1, err


@pytest.mark.parametrize("kind", ["gray8", "gray+alpha", "gray16", "rgba16", "rgb16", "palette", "1-bit"])
def test_other_pixel_formats_are_accepted(scene, capsys, kind):
    from PIL import Image

    path = first_image(scene)
    rgba = iio.imread(path)
    gray = rgba[..., :3].mean(axis=2).astype(np.uint8)
    if kind == "gray8":
        iio.imwrite(path, gray)
    elif kind == "gray+alpha":
        Image.fromarray(np.stack([gray, rgba[..., 3]], axis=2), mode="LA").save(path)
    elif kind == "gray16":
        write_png16(path, gray.astype(np.uint16) * 257)
    elif kind == "rgba16":
        write_png16(path, rgba.astype(np.uint16) * 257)
    elif kind == "rgb16":
        write_png16(path, rgba[..., :3].astype(np.uint16) * 257)
    elif kind == "palette":
        Image.fromarray(rgba[..., :3]).convert("P", palette=Image.ADAPTIVE, colors=16).save(path)
    else:
        Image.fromarray(gray > 127).convert("1").save(path)
    split = load_blender_split(scene, "train")
    img = split.images[0].numpy()
    assert img.shape == (32, 32, 4) and img.dtype == np.uint8
    err = capsys.readouterr().err
    if kind in ("gray8", "gray16", "gray+alpha"):
        assert np.abs(img[..., 0].astype(int) - gray).max() <= 1 and "grayscale" in err
    if kind in ("rgba16", "rgb16"):
        assert np.abs(img[..., :3].astype(int) - rgba[..., :3]).max() <= 1
    if kind == "rgba16":
        assert np.array_equal(img[..., 3], rgba[..., 3])
    if kind in ("gray8", "gray16", "rgb16", "palette", "1-bit"):
        assert (img[..., 3] == 255).all() and "taken as fully opaque" in err
    if kind == "gray+alpha":
        assert np.array_equal(img[..., 3], rgba[..., 3])


def test_images_not_listed_in_any_json_are_a_note(scene, capsys):
    import shutil as sh

    sh.copy(first_image(scene), scene / "train" / "r_999.png")  # e.g. a view dropped from the JSON
    sh.copy(first_image(scene), scene / "train" / "r_0_depth_0001.png")  # auxiliary images are expected
    split = load_blender_split(scene, "train")
    assert len(split) == len(frames_of(scene))
    err = capsys.readouterr().err
    assert "1 image(s) beside the views are not listed" in err and "r_999.png" in err, err
    load_blender_split(scene, "test")
    assert "not listed" not in capsys.readouterr().err


def test_non_square_scene_loads_casts_rays_trains_and_evaluates(scene, tmp_path):
    """Rows 6..25 of the 32x32 scene: a centred crop keeps the focal length and the principal
    point at the image centre, so it is a valid 32x20 (W x H) Blender scene whose pixel (i, j)
    sees what pixel (i, j + 6) of the full image saw."""
    from nerfspec.config import config_from_dict
    from nerfspec.evaluate import evaluate
    from nerfspec.models import load_run
    from nerfspec.train import train
    from tests.conftest import tiny_config_dict

    full = load_blender_split(scene, "train")
    for png in scene.rglob("*.png"):
        iio.imwrite(png, iio.imread(png)[6:26])
    crop = load_blender_split(scene, "train")
    assert (crop.width, crop.height) == (32, 20) and tuple(crop.images.shape[1:3]) == (20, 32)
    torch.testing.assert_close(crop.images, full.images[:, 6:26])
    view, i, j = torch.zeros(5, dtype=torch.long), torch.tensor([0, 31, 5, 17, 9]), torch.tensor([0, 19, 7, 3, 12])
    torch.testing.assert_close(crop.cameras.rays(view, i, j), full.cameras.rays(view, i, j + 6))

    values = tiny_config_dict(scene, tmp_path / "out", max_steps=4, checkpoint_every=4)
    run = train(config_from_dict(values), quiet=True).run_dir
    metrics = evaluate(load_run(run, "cpu"), "test", every=3, quiet=True)
    pngs = sorted((run / "eval_test").glob("r_*.png"))
    assert len(pngs) == len(metrics["views"]) >= 2
    assert all(iio.imread(p).shape[:2] == (20, 32) for p in pngs)
