"""RFF-CA: token bank maths, folded cross-attention, coarse-to-fine masks, the field contract."""

from __future__ import annotations

import math

import pytest
import torch

from nerfspec.config import FieldConfig, RFFCAConfig, config_from_dict
from nerfspec.errors import ConfigError
from nerfspec.fields import build_field
from nerfspec.fields.rffca import CrossAttentionBlock, RFFCAField, RFFCANetwork, attend
from nerfspec.fields.token_bank import (
    TokenBank,
    bank_features,
    dyadic_frequencies,
    octave_attention,
    release_weights,
    scheduled_octave_mask,
    to_tokens,
    token_octaves,
)

AABB = torch.tensor([-1.5, -1.5, -1.5, 1.5, 1.5, 1.5])
SMALL = dict(base_features=16, octaves=3, sigma=2.0, token_dim=8, dim=32, heads=4, blocks=2)


def small_cfg(**kw) -> RFFCAConfig:
    return RFFCAConfig(**{**SMALL, **kw})


def points(n: int = 256, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, generator=g) * 3.0 - 1.5
    d = torch.nn.functional.normalize(torch.randn(n, 3, generator=g), dim=-1)
    return x, d


def field(seed: int = 0, **kw) -> RFFCAField:
    torch.manual_seed(seed)
    return RFFCAField(small_cfg(**kw), AABB, generator=torch.Generator().manual_seed(seed),
                      precision="fp32")


# ---- token bank -------------------------------------------------------------------------------

def test_dyadic_frequencies_scale_each_octave():
    base = torch.randn(5, 3)
    freqs = dyadic_frequencies(base, 3)
    assert freqs.shape == (4, 5, 3)
    for k in range(4):
        torch.testing.assert_close(freqs[k], base * 2.0**k)


def test_bank_frequency_std_per_octave():
    sigma, m = 3.0, 4096
    bank = TokenBank(3, m, 3, sigma, 32, generator=torch.Generator().manual_seed(1))
    freqs = bank.frequencies()
    rel_err = 4.0 / math.sqrt(2 * m * 3)  # ~4 standard errors of a sample std
    for k in range(4):
        std = freqs[k].std().item()
        assert abs(std / (2.0**k * sigma) - 1.0) < rel_err


def test_bank_features_formula_and_float32_under_autocast():
    v = torch.rand(7, 2)
    freqs = torch.randn(2, 3, 2) * 10
    phase = torch.rand(2, 3)
    beta = torch.tensor(0.05)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = bank_features(v, freqs, phase, beta)
    assert out.shape == (7, 2, 3) and out.dtype == torch.float32
    k, m = 1, 2
    om = freqs[k, m]
    expect = torch.exp(-beta * om.norm()) * torch.cos(2 * math.pi * v @ om + phase[k, m])
    torch.testing.assert_close(out[:, k, m], expect)


def test_no_token_mixes_octaves():
    n_oct, m, dq = 4, 24, 8
    feats = torch.arange(n_oct, dtype=torch.float32)[None, :, None].expand(3, n_oct, m)
    tokens = to_tokens(feats.contiguous(), dq)
    assert tokens.shape == (3, n_oct * m // dq, dq)
    tok_oct = token_octaves(n_oct - 1, m, dq)
    assert (tokens == tok_oct[None, :, None].float()).all()
    with pytest.raises(ValueError):
        token_octaves(3, 20, 8)
    with pytest.raises(ValueError):
        TokenBank(3, 20, 3, 1.0, 8)


def test_config_rejects_mixing_tokens():
    with pytest.raises(ConfigError, match="base_features"):
        config_from_dict({"field": {"rffca": {"base_features": 60, "token_dim": 32}}})
    with pytest.raises(ConfigError, match="heads"):
        config_from_dict({"field": {"rffca": {"dim": 100, "heads": 3}}})


# ---- attention --------------------------------------------------------------------------------

def test_attend_matches_softmax_formula():
    qk, tokens, bias = torch.randn(5, 2, 4), torch.randn(5, 3, 4), torch.randn(3)
    hbar, attn = attend(qk, tokens, bias, 0.5)
    expect = torch.softmax(0.5 * torch.einsum("nhj,ntj->nht", qk, tokens) + bias, dim=-1)
    torch.testing.assert_close(attn, expect)
    torch.testing.assert_close(hbar, torch.einsum("nht,ntj->nhj", expect, tokens))


def test_folded_block_equals_scaled_dot_product_attention():
    torch.manual_seed(0)
    block = CrossAttentionBlock(dim=32, token_dim=8, heads=4)
    q, tokens, bias = torch.randn(50, 32), torch.randn(50, 6, 8), torch.randn(6)
    out, attn = block(q, tokens, bias)
    assert attn.shape == (50, 4, 6)
    torch.testing.assert_close(out, block.reference_forward(q, tokens, bias), atol=1e-5, rtol=1e-5)


def test_octave_attention_sums_tokens_of_an_octave():
    attn = torch.tensor([[[0.1, 0.2, 0.3, 0.4]], [[0.4, 0.3, 0.2, 0.1]]])
    out = octave_attention(attn, torch.tensor([0, 0, 1, 1]), 1)
    torch.testing.assert_close(out, torch.tensor([0.5, 0.5]))


# ---- masks ------------------------------------------------------------------------------------

def test_release_schedule_is_coarse_to_fine():
    assert release_weights(0.0, 3, 0.3).tolist() == [1.0, 0.0, 0.0, 0.0]
    w = release_weights(0.15, 3, 0.3)  # octave 1 released, 2 half way, 3 not started
    assert w[1] == 1.0 and 0.0 < w[2] < 1.0 and w[3] == 0.0
    assert release_weights(0.3, 3, 0.3).tolist() == [1.0] * 4
    eta = scheduled_octave_mask(0.0, 3, 0.3, -30.0)
    assert eta.tolist() == [0.0, -30.0, -30.0, -30.0]
    assert scheduled_octave_mask(1.0, 3, 0.3, -30.0).tolist() == [0.0] * 4


def test_scheduled_mask_hides_then_releases_fine_octaves():
    x, d = points()
    masked, free = field(mask="scheduled"), field(mask="off")
    free.load_state_dict(masked.state_dict(), strict=False)
    masked.set_progress(0, 0.0)
    masked(x, d)
    fine = masked.net.last_attention[:, 1:].sum(dim=1)
    assert (fine < 1e-3).all()
    scal = masked.scalars()
    assert scal["rffca/mask_block_1_octave_3"] == -30.0 and scal["rffca/attn_octave_3"] < 1e-3

    masked.set_progress(1000, 1.0)
    s1, c1 = masked(x, d)
    s2, c2 = free(x, d)
    torch.testing.assert_close(masked.net.last_attention, free.net.last_attention)
    assert masked.net.last_attention[:, 1:].sum() > 1e-2
    torch.testing.assert_close(s1, s2)
    torch.testing.assert_close(c1, c2)


def test_learnable_mask_stays_non_positive():
    f = field(mask="learnable")
    eta0 = f.net.octave_mask().detach()
    assert (eta0[:, 0] == 0).all() and (eta0[:, 1:] < 0).all()
    opt = torch.optim.SGD(f.parameters(), lr=1e3)
    for _ in range(3):
        opt.zero_grad()
        (-f.net.octave_mask().sum()).backward()  # pushes every offset up
        opt.step()
    eta = f.net.octave_mask()
    assert (eta <= 0).all() and (eta[:, 1:] > eta0[:, 1:]).all()


# ---- the field --------------------------------------------------------------------------------

@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_field_shapes_and_density(precision):
    cfg = FieldConfig(encoding="rffca", precision=precision, rffca=small_cfg())
    f = build_field(cfg, AABB)
    assert isinstance(f, RFFCAField)
    x, d = points(100)
    sigma, rgb = f(x, d)
    assert sigma.shape == (100,) and rgb.shape == (100, 3)
    assert sigma.dtype == rgb.dtype == torch.float32
    assert (sigma >= 0).all() and ((rgb >= 0) & (rgb <= 1)).all()
    assert f.density(x).shape == (100,)
    assert f.net(torch.rand(100, 3)).shape == (100, cfg.rffca.dim)
    (sigma.sum() + rgb.sum()).backward()
    assert f.net.blocks[0].k_proj.weight.grad is not None


def test_build_field_with_defaults():
    f = build_field(FieldConfig(encoding="rffca"), AABB)
    sigma, rgb = f(*points(64))
    assert sigma.shape == (64,) and (sigma >= 0).all()
    keys = f.scalars()
    assert "rffca/attn_octave_0" in keys and "rffca/mask_block_0_octave_1" in keys


def test_state_dict_round_trip_restores_outputs_and_schedule():
    x, d = points()
    a = field(seed=0)
    a.set_progress(50, 0.12)
    b = field(seed=1)
    b.load_state_dict(a.state_dict())
    assert float(b.net.progress) == pytest.approx(0.12)
    torch.testing.assert_close(b.net.mask_scheduled, a.net.mask_scheduled)
    sa, ca = a(x, d)
    sb, cb = b(x, d)
    assert torch.equal(sa, sb) and torch.equal(ca, cb)


def test_network_general_input_dimension():
    net = RFFCANetwork(1, base_features=8, octaves=2, token_dim=4, dim=16, heads=2, blocks=1,
                       mask="off", generator=torch.Generator().manual_seed(0))
    assert net(torch.rand(10, 1)).shape == (10, 16)


# ---- the toy script ---------------------------------------------------------------------------

def test_spectral_toy_script_runs(tmp_path, capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "spectral_toy.py"
    spec = importlib.util.spec_from_file_location("spectral_toy", path)
    toy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(toy)
    assert toy.first_below([1.0, 0.5, 1e-3], 1e-2) == "3" and toy.first_below([1.0], 1e-2) == "never"
    assert toy.main(["--steps", "3", "--points", "32", "--ca-mask", "scheduled", "--threads", "0"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("plain", "gauss", "rffca"))
    import imageio.v3 as iio
    import numpy as np

    img = np.zeros((16, 16, 4), np.uint8)
    img[4:12, 4:12] = 255
    iio.imwrite(tmp_path / "square.png", img)
    assert toy.main(["--image", str(tmp_path / "square.png"), "--size", "8", "--steps", "2",
                     "--threads", "0"]) == 0
    assert "test PSNR" in capsys.readouterr().out
