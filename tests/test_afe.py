"""Adaptive frequency enhancement and the note's RFF-CA variant: peaks of planted tones,
posterior tokens, the single-head block, the shared learned mask, units."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nerfspec.config import RFFCAConfig, config_from_dict
from nerfspec.errors import ConfigError
from nerfspec.fields.afe import afe_due, residual_peaks
from nerfspec.fields.rffca import RFFCANetwork, SingleHeadBlock
from nerfspec.fields.token_bank import TokenBank, note_sigma, posterior_features


def grid2(n):
    v = np.arange(n) / n
    return np.meshgrid(v, v, indexing="ij")


def test_planted_2d_tone_is_found_exactly():
    x, y = grid2(32)
    r = np.cos(2 * np.pi * (5 * x - 3 * y) + 0.7) + 0.3 * np.cos(2 * np.pi * 2 * y)
    peaks = residual_peaks(r, [1.0, 1.0], max_peaks=4, threshold=0.1)
    assert peaks.tolist() == [[5.0, -3.0], [0.0, 2.0]]  # strongest first, canonical sign


def test_extent_sets_the_units_and_channels_pool():
    n = 64
    x = np.arange(n) / n * 2.0  # two units long
    r = np.stack([np.sin(2 * np.pi * 7 * x), np.cos(2 * np.pi * 7 * x)], axis=-1)
    torch.testing.assert_close(residual_peaks(r, [2.0], 1), torch.tensor([[7.0]]))


def test_between_bins_tone_is_refined():
    x = np.arange(1000) / 1000
    f = residual_peaks(np.sin(2 * np.pi * 90.3 * x), [1.0], 1)
    assert abs(float(f[0, 0]) - 90.3) < 0.05


def test_threshold_and_exclusion():
    x = np.arange(128) / 128
    r = np.sin(2 * np.pi * 10 * x) + 0.4 * np.sin(2 * np.pi * 30 * x)
    assert residual_peaks(r, [1.0], 4, threshold=0.5).tolist() == [[10.0]]
    assert residual_peaks(r, [1.0], 4, threshold=0.3).tolist() == [[10.0], [30.0]]
    assert residual_peaks(r, [1.0], 4, 0.3, exclude=torch.tensor([[-10.0]])).tolist() == [[30.0]]
    assert residual_peaks(np.zeros(16), [1.0]).shape == (0, 1)


def test_afe_due_once_per_fraction():
    assert [s for s in range(100) if afe_due(s, 100, [0.25, 0.5])] == [25, 50]


def test_posterior_tokens_spread_the_phase():
    v = torch.rand(5, 2)
    f = torch.tensor([[3.0, 1.0]])
    tok = posterior_features(v, f, 4, 1.0)
    arg = 2 * math.pi * (v @ f.T)
    torch.testing.assert_close(tok[:, 0, 1], torch.cos(arg[:, 0] + math.pi / 2))
    # d_q evenly spread phases: the token's features sum to zero
    torch.testing.assert_close(tok.sum(-1), torch.zeros(5, 1), atol=1e-5, rtol=0)


def test_injection_adds_tokens_and_survives_a_state_dict():
    gen = torch.Generator().manual_seed(0)
    net = RFFCANetwork(1, base_features=8, octaves=1, sigma=1.0, token_dim=4, dim=8, heads=2, blocks=1,
                       generator=gen)
    x = torch.rand(7, 1)
    assert net.bank(x).shape == (7, 4, 4)
    net.inject_frequencies(torch.tensor([[40.0], [55.0]]))
    assert net.bank(x).shape == (7, 6, 4) and net(x).shape == (7, 8)
    assert net.token_bias() is not None and torch.all(net.token_bias()[:, -2:] == 0)
    fresh = RFFCANetwork(1, base_features=8, octaves=1, sigma=1.0, token_dim=4, dim=8, heads=2, blocks=1)
    fresh.load_state_dict(net.state_dict())
    torch.testing.assert_close(fresh(x), net(x))
    old = {k: v for k, v in net.state_dict().items() if not k.endswith("post_freqs")}
    RFFCANetwork(1, base_features=8, octaves=1, sigma=1.0, token_dim=4, dim=8, heads=2, blocks=1).load_state_dict(old)


def test_note_sigma_converts_radians_to_cycles():
    assert note_sigma(note_sigma(3.0)) == pytest.approx(3.0)
    omega = torch.randn(20000, generator=torch.Generator().manual_seed(0)) / 0.05  # the note: N(0, s^-2), s = 0.05
    cycles = omega / (2 * math.pi)
    assert float(cycles.std()) == pytest.approx(1.0 / (2 * math.pi * 0.05), rel=0.02)
    assert note_sigma(1.0 / (2 * math.pi * 0.05)) == pytest.approx(0.05)


def test_note_bank_is_normalised_by_sqrt_m():
    gen = torch.Generator().manual_seed(0)
    a = TokenBank(2, 16, 1, 2.0, 8, generator=gen)
    b = TokenBank(2, 16, 1, 2.0, 8, generator=torch.Generator().manual_seed(0), normalise=True)
    v = torch.rand(4, 2)
    torch.testing.assert_close(b(v), a(v) / math.sqrt(32))


def test_single_head_block_folds_exactly():
    torch.manual_seed(0)
    block = SingleHeadBlock(8)
    q, tok, bias = torch.randn(5, 8), torch.randn(5, 6, 8), torch.tensor([0.0, 0, -1, -1, -2, -2])
    out, attn = block(q, tok, bias)
    torch.testing.assert_close(out, block.reference_forward(q, tok, bias), atol=1e-5, rtol=1e-5)
    assert attn.shape == (5, 1, 6)


def test_note_variant_shape_and_shared_mask():
    net = RFFCANetwork(2, base_features=16, octaves=2, token_dim=8, dim=64, heads=4, blocks=3,
                       mask_learnable_init=-6.0, variant="note")
    assert net.dim == 8 and isinstance(net.blocks[0], SingleHeadBlock) and net.bank.normalise
    mask = net.octave_mask()
    assert mask.shape == (3, 3) and torch.all(mask[:, 0] == 0)
    torch.testing.assert_close(mask[:, 1:], torch.full((3, 2), -6.0))
    assert net(torch.rand(4, 2)).shape == (4, 8)
    assert sum(p.numel() for p in [net.mask_raw]) == 3  # one eta per block


def test_variant_config_is_validated():
    cfg = config_from_dict({"field": {"encoding": "rffca", "rffca": {"variant": "note", "afe_at": [0.2]}}})
    assert cfg.field.rffca.variant == "note"
    with pytest.raises(ConfigError, match="field.rffca.variant"):
        RFFCAConfig(variant="paper").validate()
    with pytest.raises(ConfigError, match="afe_at"):
        RFFCAConfig(afe_at=[1.5]).validate()


def test_view_frequencies_map_to_the_field_box():
    from nerfspec.fields.afe import view_to_field_frequencies

    # a camera looking down -z with identity rotation: image x = world x, image y = world -y
    peaks = torch.tensor([[0.1, 0.0], [0.0, 0.05]])
    b = view_to_field_frequencies(peaks, torch.eye(4), focal=200.0, depth=4.0, box_size=3.0)
    # 0.1 cycles/px * 200 px / 4 units = 5 cycles per scene unit = 15 per 3-unit box
    torch.testing.assert_close(b, torch.tensor([[15.0, 0.0, 0.0], [0.0, -7.5, 0.0]]))
