"""Coarse-to-fine masks: the cosine ramp, the schedule field.c2f, and which features each
mapping puts in which band (pe octaves, hashgrid levels, gauss groups by |b|, rffca octaves)."""

import math

import pytest
import torch

from nerfspec.config import FieldConfig, HashGridConfig, RFFCAConfig, load_config
from nerfspec.encodings import GaussianFourierEncoding, PositionalEncoding
from nerfspec.encodings.coarse_to_fine import (
    band_weights,
    c2f_window,
    magnitude_bands,
    resolve_c2f,
    set_window,
    window_weights,
)
from nerfspec.encodings.hashgrid import HashGridEncoding
from nerfspec.errors import ConfigError
from nerfspec.fields import build_field
from nerfspec.fields.token_bank import TokenBank

AABB = torch.tensor([-1.0, -1, -1, 1, 1, 1])


def test_band_weights_are_barfs_cosine_ramp():
    k = torch.arange(5)
    torch.testing.assert_close(band_weights(0.0, k), torch.zeros(5))
    torch.testing.assert_close(band_weights(5.0, k), torch.ones(5))
    w = band_weights(2.25, k)
    expected = [1.0, 1.0, 0.5 * (1 - math.cos(math.pi * 0.25)), 0.0, 0.0]
    torch.testing.assert_close(w, torch.tensor(expected))
    torch.testing.assert_close(window_weights(2.25, 5), w)
    assert band_weights(0.0, torch.tensor([-1])).item() == 1.0  # the raw input's band is always open


def test_c2f_window_follows_the_schedule():
    assert c2f_window(0.05, 0.1, 0.5, 10) == 0.0  # BARF: nothing but the raw input before start
    assert c2f_window(0.3, 0.1, 0.5, 10) == pytest.approx(5.0)
    assert c2f_window(0.7, 0.1, 0.5, 10) == 10.0
    assert c2f_window(0.0, 0.1, 0.5, 16, first_open=1) == 1.0
    assert c2f_window(0.3, 0.1, 0.5, 16, first_open=1) == pytest.approx(8.5)
    assert c2f_window(0.2, 0.2, 0.2, 4) == 4.0  # a step at start


def test_resolve_c2f_takes_the_older_window_fraction():
    assert resolve_c2f([0.1, 0.5], 0.3) == (0.1, 0.5)
    assert resolve_c2f([], 0.3) == (0.0, 0.3)
    assert resolve_c2f([], 0.0) is None


def test_magnitude_bands_group_frequencies_by_size():
    gen = torch.Generator().manual_seed(0)
    freqs = torch.randn(64, 3, generator=gen) * 4
    bands = magnitude_bands(freqs, 8)
    assert torch.equal(torch.bincount(bands), torch.full((8,), 8))
    norms = freqs.norm(dim=-1)
    for b in range(7):  # every frequency of band b is below every one of band b + 1
        assert norms[bands == b].max() < norms[bands == b + 1].min()


def test_pe_bands_are_octaves():
    enc = PositionalEncoding(3, octaves=4, include_input=True)
    assert enc.bands == 4 and enc.first_open == 0
    bands = enc.feature_bands()
    # [cos, sin] of frequencies 2^k e_i, octave-major: octave k owns columns k*3 .. k*3+2 of each half
    assert torch.equal(bands, torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3] * 2))
    freqs = enc.freqs.norm(dim=-1).repeat(2)
    torch.testing.assert_close(freqs, 2.0 ** bands.float())
    enc.window = 1.0
    v = torch.rand(5, 3)
    out = enc(v)
    assert torch.equal(out[:, :3], v)  # the raw input is never masked
    feats = out[:, 3:]
    assert (feats[:, bands > 0] == 0).all() and (feats[:, bands == 0] != 0).any()


def test_gauss_bands_are_groups_of_frequencies_by_magnitude():
    enc = GaussianFourierEncoding(3, features=32, sigma=4.0, generator=torch.Generator().manual_seed(1), bands=4)
    assert enc.bands == 4 and enc.first_open == 1
    bands = enc.feature_bands()
    torch.testing.assert_close(bands, magnitude_bands(enc.freqs, 4).repeat(2))
    enc.window = 1.0
    feats = enc(torch.rand(6, 3))
    assert (feats[:, bands > 0] == 0).all() and (feats[:, bands == 0] != 0).all()
    lowest = enc.freqs.norm(dim=-1).sort().values[:8]
    torch.testing.assert_close(enc.freqs[magnitude_bands(enc.freqs, 4) == 0].norm(dim=-1).sort().values, lowest)


def test_hashgrid_bands_are_levels():
    enc = HashGridEncoding(levels=4, features_per_level=2, log2_table_size=10, base_resolution=4,
                           max_resolution=32, backend="torch")
    assert enc.bands == 4 and enc.first_open == 1
    assert torch.equal(enc.feature_bands(), torch.tensor([0, 0, 1, 1, 2, 2, 3, 3]))
    torch.nn.init.normal_(enc.table)
    enc.window = 2.5
    feats = enc(torch.rand(7, 3))
    full = feats.clone()
    enc.window = 4.0
    full = enc(torch.rand(0, 3))  # noqa: F841 - the shape path with no points
    assert (feats[:, 6:] == 0).all() and (feats[:, :4] != 0).all()
    assert (feats[:, 4:6] != 0).all()  # level 2 at weight 1/2


def test_rffca_bands_are_octaves_of_the_token_bank():
    bank = TokenBank(3, base_features=8, octaves=3, sigma=1.0, token_dim=4,
                     generator=torch.Generator().manual_seed(2))
    assert bank.bands == 4 and bank.first_open == 1
    assert torch.equal(bank.feature_bands(), torch.arange(4)[:, None].expand(4, 8))
    bank.window = 1.0
    tokens = bank(torch.rand(5, 3))  # (N, T, d_q): two tokens per octave
    assert (tokens[:, 2:] == 0).all() and (tokens[:, :2] != 0).any()


@pytest.mark.parametrize("encoding, extra", [
    ("pe", {}), ("gauss", {}), ("hashgrid", {"hashgrid": HashGridConfig(levels=4, log2_table_size=10,
                                                                         base_resolution=4, max_resolution=32)}),
    ("rffca", {"rffca": RFFCAConfig(base_features=8, token_dim=4, dim=16, heads=2, blocks=1, mask="off")}),
])
def test_every_field_opens_its_bands_on_one_schedule(encoding, extra):
    cfg = FieldConfig(encoding=encoding, depth=1, width=16, precision="fp32", c2f=[0.1, 0.5], **extra)
    field = build_field(cfg, AABB)
    enc = field.maskable()
    assert field.c2f == (0.1, 0.5) and enc is not None
    field.set_progress(0, 0.05)
    assert enc.window == enc.first_open and field.scalars()["c2f/window"] == enc.first_open
    field.set_progress(0, 0.3)
    assert enc.window == pytest.approx(enc.first_open + 0.5 * (enc.bands - enc.first_open))
    field.set_progress(0, 0.9)
    assert enc.window == enc.bands
    off = build_field(FieldConfig(encoding=encoding, depth=1, width=16, precision="fp32", **extra), AABB)
    off.set_progress(0, 0.0)
    assert off.c2f is None and (off.maskable() is None or off.maskable().window == off.maskable().bands)


def test_set_window_without_a_schedule_changes_nothing():
    enc = PositionalEncoding(3, octaves=6)
    assert set_window(enc, 0.0, None) is None and enc.window == 6.0


@pytest.mark.parametrize("value", ["[0.5, 0.2]", "[0.1]", "[-0.1, 0.5]", "[0.2, 1.5]"])
def test_bad_c2f_is_a_config_error(value):
    with pytest.raises(ConfigError, match="field.c2f"):
        load_config(None, [f"field.c2f={value}"])
