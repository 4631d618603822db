import math

import pytest
import torch

from nerfspec.render.volume import (
    accumulate,
    composite_rays,
    exclusive_sum_packed,
    render_weights,
    segment_starts,
)


def packed(counts):
    return torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))


def test_segment_starts():
    starts, counts = segment_starts(packed([2, 0, 3]), 3)
    assert starts.tolist() == [0, 2, 2] and counts.tolist() == [2, 0, 3]


def test_exclusive_sum_matches_per_ray_loop():
    idx = packed([3, 1, 4])
    v = torch.arange(1.0, 9.0)
    out = exclusive_sum_packed(v, idx, 3)
    assert out.tolist() == [0, 1, 3, 0, 0, 5, 11, 18]


def test_constant_slab_opacity_closed_form():
    """A slab of density sigma and thickness d: opacity 1 - exp(-sigma d), any sampling."""
    sigma, d, n = 3.0, 0.7, 50
    t = torch.linspace(0, d, n + 1)
    idx = torch.zeros(n, dtype=torch.long)
    rgb, opacity, depth = composite_rays(t[:-1], t[1:], torch.full((n,), sigma), torch.ones(n, 3), idx, 1)
    assert opacity.item() == pytest.approx(1 - math.exp(-sigma * d), rel=1e-5)
    assert rgb[0, 0].item() == pytest.approx(opacity.item(), rel=1e-5)
    # expected depth of an exponential distribution truncated to [0, d] (up to midpoint error)
    expect = (1 / sigma - (d + 1 / sigma) * math.exp(-sigma * d)) / (1 - math.exp(-sigma * d))
    assert depth.item() / opacity.item() == pytest.approx(expect, rel=1e-3)


def test_weights_match_nerfacc_dense_form():
    nerfacc = pytest.importorskip("nerfacc")
    torch.manual_seed(0)
    t = torch.sort(torch.rand(4, 9), dim=-1).values
    sig = torch.rand(4, 8) * 5
    w_dense, _, _ = nerfacc.render_weight_from_density(t[:, :-1], t[:, 1:], sig)
    idx = packed([8] * 4)
    w, trans, alpha = render_weights(t[:, :-1].reshape(-1), t[:, 1:].reshape(-1), sig.reshape(-1), idx, 4)
    torch.testing.assert_close(w.reshape(4, 8), w_dense, rtol=1e-5, atol=1e-6)


def test_accumulate_and_empty_rays():
    idx = torch.tensor([0, 0, 2])
    w = torch.tensor([0.5, 0.25, 1.0])
    out = accumulate(torch.tensor([[1.0], [2.0], [3.0]]), w, idx, 3)
    assert out[:, 0].tolist() == [1.0, 0.0, 3.0]
    assert accumulate(None, w, idx, 3)[:, 0].tolist() == [0.75, 0.0, 1.0]


def test_gradients_flow_to_density_and_colour():
    idx = packed([4, 4])
    t = torch.linspace(0, 1, 5)
    ts, te = t[:-1].repeat(2), t[1:].repeat(2)
    sig = torch.ones(8, requires_grad=True)
    rgb = torch.full((8, 3), 0.5, requires_grad=True)
    out, _, _ = composite_rays(ts, te, sig, rgb, idx, 2)
    out.sum().backward()
    assert sig.grad.abs().sum() > 0 and rgb.grad.abs().sum() > 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cpu_and_cuda_compositing_agree():
    from nerfspec.render.kernels import nerfacc_cuda_available

    if not nerfacc_cuda_available():
        pytest.skip("nerfacc's CUDA extension is unavailable here")
    torch.manual_seed(0)
    idx = packed([5, 7, 3])
    ts = torch.rand(15).sort().values
    te = ts + 0.05
    sig, rgb = torch.rand(15) * 4, torch.rand(15, 3)
    cpu = composite_rays(ts, te, sig, rgb, idx, 3)
    from nerfspec.render.kernels import render_weights
    from nerfspec.render.volume import composite_weighted

    w = render_weights(ts.cuda(), te.cuda(), sig.cuda(), idx.cuda(), 3, backend="nerfacc")
    gpu = composite_weighted(w, ts.cuda(), te.cuda(), rgb.cuda(), idx.cuda(), 3)
    for a, b in zip(cpu, gpu):
        torch.testing.assert_close(a, b.cpu(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("passes", [0, 1, 2, 3])
def test_inference_rendering_matches_training_rendering(passes):
    """Rendering without gradients (rounds of 5 samples until done, or 1, 2 or 3 passes as a
    GPU renders) gives the same pixels as the two-pass training path."""
    from nerfspec.config import config_from_dict
    from nerfspec.render.renderer import render_rays, render_rays_inference
    from nerfspec.models import build_models

    cfg = config_from_dict({"field": {"depth": 2, "width": 32, "precision": "fp32",
                                      "density_bias": 2.0, "gauss": {"features": 16}},
                            "sampler": {"grid_resolution": 16, "render_step_size": 0.02}})
    field, est = build_models(cfg, torch.device("cpu"))
    torch.manual_seed(0)
    o = torch.nn.functional.normalize(torch.randn(128, 3), dim=-1) * 4
    d = torch.nn.functional.normalize(-o + 0.5 * torch.randn(128, 3), dim=-1)
    bg = torch.tensor([0.2, 0.5, 0.9])
    with torch.no_grad():
        a = render_rays(field, est, o, d, bg)
        b = render_rays_inference(field, est, o, d, bg, round_size=5, passes=passes)
    assert a.opacity.max() > 0.9  # some rays do become opaque, so early stopping is exercised
    torch.testing.assert_close(a.rgb, b.rgb, rtol=1e-4, atol=2e-4)
    torch.testing.assert_close(a.opacity, b.opacity, rtol=1e-4, atol=2e-4)
    torch.testing.assert_close(a.depth, b.depth, rtol=1e-3, atol=2e-3)


@pytest.mark.parametrize("round_size", [0, 4])
def test_early_stop_modes_render_and_train_alike(round_size):
    """separate, fused and none composite the same samples: the same pixels and gradients."""
    from nerfspec.config import config_from_dict
    from nerfspec.models import build_models
    from nerfspec.render.renderer import render_rays

    cfg = config_from_dict({"field": {"depth": 2, "width": 32, "precision": "fp32", "density_bias": 2.0,
                                      "view_dirs": True, "gauss": {"features": 16}},
                            "sampler": {"grid_resolution": 16, "render_step_size": 0.02,
                                        "early_stop_round": round_size, "early_stop_eps": 1e-3}})
    field, est = build_models(cfg, torch.device("cpu"))
    torch.manual_seed(0)
    o = torch.nn.functional.normalize(torch.randn(96, 3), dim=-1) * 4
    d = torch.nn.functional.normalize(-o + 0.5 * torch.randn(96, 3), dim=-1)
    bg = torch.tensor([0.2, 0.5, 0.9])
    results = {}
    for mode in ("separate", "fused", "none"):
        field.zero_grad(set_to_none=True)
        out = render_rays(field, est, o, d, bg, early_stop=mode)
        (out.rgb ** 2).sum().backward()
        results[mode] = (out, {k: p.grad.clone() for k, p in field.named_parameters()})
    sep, fused, none = results["separate"][0], results["fused"][0], results["none"][0]
    assert sep.opacity.max() > 0.99 and none.n_samples > sep.n_samples  # early stopping drops samples
    assert fused.n_samples == sep.n_samples and fused.n_evaluated >= fused.n_samples
    torch.testing.assert_close(fused.rgb, sep.rgb, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(none.rgb, sep.rgb, rtol=1e-3, atol=2e-3)  # dropped samples weigh < eps
    for k, g in results["separate"][1].items():
        torch.testing.assert_close(results["fused"][1][k], g, rtol=1e-4, atol=1e-6)
