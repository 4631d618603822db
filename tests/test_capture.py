"""nerfspec.data.capture: a capture (one transforms.json, nerfstudio / instant-ngp) loaded as a
split: detection, splits, the scene frame, rays through the lens, check-data's summary, views
of several sizes and instant-ngp's aabb_scale. The capture fixture the other capture tests use."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from nerfspec.config import DataConfig
from nerfspec.data.capture_layout import find_capture_file
from nerfspec.data.dataset import is_capture, load_split, resolve_data
from nerfspec.errors import DatasetError
from nerfspec.lens import pixel_directions
from nerfspec.synth import SCENES_DIR, make_scene, raycast
from nerfspec.synth.generate import Photography
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


# -- intrinsics variants ------------------------------------------------------------------------


# -- bad files: one line, exit code 2 -----------------------------------------------------------


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


def test_aabb_scale_normalisation(capture, tmp_path):
    root = edited(capture, tmp_path, lambda m: m.update(aabb_scale=4, scale=0.5, offset=[0.5, 0.6, 0.7]))
    split = load_split(data(root, normalize="aabb_scale", aabb=[-1.0, -1.0, -1.0, 1.0, 1.0, 1.0]), "train")
    # k = 2 / 4; p = k (0.5 p + offset') - 0.5 k with offset' = (0.7, 0.5, 0.6) (instant-ngp's axis order)
    expect = torch.tensor([[0.25, 0, 0, 0.1], [0, 0.25, 0, 0.0], [0, 0, 0.25, 0.05], [0, 0, 0, 1]], dtype=torch.float64)
    torch.testing.assert_close(split.transform, expect)
