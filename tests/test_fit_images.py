"""nerfspec.fit.images: the image task's targets: the protocol's grid and split, centre crops,
the built-in image sets, and one-line errors for missing targets."""

from __future__ import annotations

import pytest
import torch

from nerfspec.errors import NerfspecError
from nerfspec.fit import images


def test_split_is_every_other_pixel_and_a_quarter():
    train, test = images.split_masks(8)
    assert train.sum() == 16 and test.sum() == 48 and not (train & test).any()
    rows, cols = torch.nonzero(train, as_tuple=True)
    assert set(rows.tolist()) == {0, 2, 4, 6} and set(cols.tolist()) == {0, 2, 4, 6}


def test_grid_coords_are_pixel_index_over_size():
    c = images.grid_coords(4)
    assert c.shape == (4, 4, 2)
    torch.testing.assert_close(c[1, 3], torch.tensor([0.75, 0.25]))  # (x = col / S, y = row / S)


def test_centre_square_crops_the_middle_and_resizes():
    img = torch.zeros(6, 10, 3)
    img[:, 2:8] = 1.0  # the central 6x6 square
    out = images.centre_square(img, 3)
    assert out.shape == (3, 3, 3) and torch.allclose(out, torch.ones_like(out))


def test_text_images_are_deterministic_and_distinct():
    a, b = images.text_image(5, 64), images.text_image(5, 64)
    assert torch.equal(a, b) and not torch.equal(a, images.text_image(6, 64))
    assert a.shape == (64, 64, 3) and a.std() > 0.05  # text on a plain background


def test_text_val_and_test_sets_differ():
    test = dict(images.text_images("test", 32, 2))
    val = dict(images.text_images("val", 32, 2))
    assert not set(test) & set(val)


def test_natural_set_loads_from_the_package():
    pytest.importorskip("skimage")
    ims = images.natural_images("val", 16)
    assert [n for n, _ in ims] == ["coins", "moon"] and all(x.shape == (16, 16, 3) for _, x in ims)


def test_missing_and_unreadable_targets_are_one_line_errors(tmp_path):
    with pytest.raises(NerfspecError, match="no such image"):
        images.image_files(tmp_path / "nope")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(NerfspecError, match="bad.png"):
        images.load_targets([str(tmp_path)], 8)


