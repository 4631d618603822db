"""CPU and CUDA paths agree (skipped without a GPU).

What differs between the devices is only which kernels run (render/kernels.py): nerfacc's grid
traversal and compositing scan on CUDA, PyTorch on the CPU, over the same grid state. The two
traversals step from the box entry by the same dt and keep the same steps, but the kernel adds
dt step by step where PyTorch multiplies, so t differs by float32 rounding (~1e-5 over a ray)
and a sample whose midpoint lies within that distance of a cell face can fall on the other
side of it. Hence the tolerances: per-ray sample counts equal on at least 99% of the rays,
images equal to 1e-3 on at least 99% of the rays and to 1e-4 on average.
"""

import pytest
import torch

from nerfspec.config import config_from_dict
from nerfspec.models import build_models
from nerfspec.render.kernels import kernel_backend, nerfacc_cuda_available, nerfacc_traverse
from nerfspec.render.renderer import render_rays, render_rays_inference
from nerfspec.render.sampling import march_grid

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

AABB = [-1.0, -1.0, -1.0, 1.0, 1.0, 1.0]


def config(encoding="gauss"):
    return config_from_dict({
        "data": {"aabb": AABB},
        "field": {"encoding": encoding, "depth": 2, "width": 32, "precision": "fp32", "density_bias": 2.0,
                  "gauss": {"features": 16}, "rffca": {"dim": 32, "blocks": 1}},
        "sampler": {"grid_resolution": 16, "render_step_size": 0.02}})


def random_rays(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    o = torch.nn.functional.normalize(torch.randn(n, 3, generator=g), dim=-1) * 3
    d = torch.nn.functional.normalize(-o + 0.6 * torch.randn(n, 3, generator=g), dim=-1)
    return o, d


def shell_grid(est):
    """Occupied cells: a thick spherical shell, the rest evaluated and empty."""
    r = est.resolution
    idx = torch.arange(r ** 3)
    ijk = torch.stack([idx // (r * r), (idx // r) % r, idx % r], -1).float()
    centre = -1 + (ijk + 0.5) / r * 2
    rad = centre.norm(dim=-1)
    occupied = (rad > 0.3) & (rad < 0.8)
    est.occs.copy_(occupied.float() * 0.5)
    est.refresh_binary()
    return occupied


def test_nerfacc_kernels_are_used_on_cuda():
    if not nerfacc_cuda_available():
        pytest.skip("nerfacc's CUDA extension does not build here")
    assert kernel_backend("cuda", "auto") == "nerfacc" and kernel_backend("cuda", "nerfacc") == "nerfacc"
    assert kernel_backend("cuda", "torch") == "torch"


def test_traversal_agrees():
    if kernel_backend("cuda") != "nerfacc":
        pytest.skip("nerfacc's CUDA extension is unavailable here")
    _, est = build_models(config(), torch.device("cpu"))
    shell_grid(est)
    o, d = random_rays(4096)
    a = march_grid(o, d, est.aabb, est.binary, 0.02)
    idx, ts, te = nerfacc_traverse(o.cuda(), d.cuda(), est.aabb.cuda(), est.binary.cuda(), 0.02)
    ca = torch.bincount(a.ray_indices, minlength=4096)
    cb = torch.bincount(idx.cpu(), minlength=4096)
    assert (ca == cb).float().mean() >= 0.99
    keep = (ca == cb)[a.ray_indices]
    assert len(a) > 10000  # the shell is crossed by most rays
    # where a ray has the same samples, they are the same intervals
    b_keep = (ca == cb)[idx.cpu()]
    torch.testing.assert_close(a.t_starts[keep], ts.cpu()[b_keep], atol=1e-4, rtol=0)
    torch.testing.assert_close(te.cpu() - ts.cpu(), torch.full_like(ts.cpu(), 0.02), atol=1e-5, rtol=0)


@pytest.mark.parametrize("encoding", ["gauss", "pe", "rffca"])
def test_field_renders_alike_on_cpu_and_cuda(encoding):
    cfg = config(encoding)
    field, est = build_models(cfg, torch.device("cpu"))
    shell_grid(est)
    gfield, gest = build_models(cfg, torch.device("cuda"))
    gfield.load_state_dict(field.state_dict())
    gest.load_state_dict(est.state_dict())
    o, d = random_rays(4096, seed=1)
    bg = torch.tensor([0.2, 0.5, 0.9])
    with torch.no_grad():
        for render in (render_rays, render_rays_inference):
            a = render(field, est, o, d, bg)
            b = render(gfield, gest, o.cuda(), d.cuda(), bg.cuda())
            assert a.opacity.max() > 0.9  # rays become opaque: early stopping is exercised
            for x, y in ((a.rgb, b.rgb.cpu()), (a.opacity, b.opacity.cpu())):
                err = (x - y).abs().amax(dim=-1)
                assert (err <= 1e-3).float().mean() >= 0.99, f"{encoding}: {err.max()}"
                assert err.mean() <= 1e-4, f"{encoding}: mean {err.mean()}"


def test_updated_grid_agrees():
    """The same update rule on both devices from the same densities: the same occupied cells."""
    cfg = config()
    field, est = build_models(cfg, torch.device("cpu"))
    gfield, gest = build_models(cfg, torch.device("cuda"))
    gfield.load_state_dict(field.state_dict())

    def per_cell(x):  # constant within each grid cell, so where the jitter lands does not matter
        centre = -1 + (torch.floor((x + 1) * 8).clamp(0, 15) + 0.5) / 8
        return 50.0 * (centre.norm(dim=-1) < 0.5).float()

    for step in range(3):
        est.update(step * cfg.sampler.update_every, per_cell)
        gest.update(step * cfg.sampler.update_every, per_cell)
    assert torch.equal(est.binary, gest.binary.cpu())


def test_encodings_agree_on_cpu_and_cuda():
    for encoding in ("basic", "pe", "gauss", "rffca"):
        field, _ = build_models(config(encoding), torch.device("cpu"))
        gfield, _ = build_models(config(encoding), torch.device("cuda"))
        gfield.load_state_dict(field.state_dict())
        x = torch.rand(1000, 3) * 2 - 1
        d = torch.nn.functional.normalize(torch.randn(1000, 3), dim=-1)
        with torch.no_grad():
            s1, c1 = field(x, d)
            s2, c2 = gfield(x.cuda(), d.cuda())
        torch.testing.assert_close(s1, s2.cpu(), rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(c1, c2.cpu(), rtol=1e-4, atol=1e-4)
