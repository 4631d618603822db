"""nerfspec.data.capture_images: a capture's images: masks into alpha, JPEGs, EXIF orientation, and
the cache of downscaled copies (never writing the input)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from nerfspec.data.capture_images import apply_orientation, cache_root
from nerfspec.data.dataset import load_split
from nerfspec.errors import DatasetError
from tests.test_capture import SIZE, capture, data, make_capture, tree_hash  # noqa: F401  (the module fixture and helpers)

pytestmark = pytest.mark.usefixtures("private_cache")


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
