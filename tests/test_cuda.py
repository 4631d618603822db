"""End-to-end agreement of the CPU and CUDA paths (skipped without a GPU)."""

import pytest
import torch

from nerfspec.config import config_from_dict
from nerfspec.render.renderer import render_rays
from nerfspec.run import build_models

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_field_renders_alike_on_cpu_and_cuda():
    cfg = config_from_dict({"field": {"depth": 2, "width": 32, "precision": "fp32",
                                      "gauss": {"features": 16}},
                            "sampler": {"grid_resolution": 16, "render_step_size": 0.05}})
    field, est = build_models(cfg, torch.device("cpu"))
    gfield, gest = build_models(cfg, torch.device("cuda"))
    gfield.load_state_dict(field.state_dict())
    torch.manual_seed(0)
    o = torch.nn.functional.normalize(torch.randn(64, 3), dim=-1) * 4
    d = torch.nn.functional.normalize(-o + 0.3 * torch.randn(64, 3), dim=-1)
    bg = torch.ones(3)
    with torch.no_grad():
        a = render_rays(field, est, o, d, bg)
        b = render_rays(gfield, gest, o.cuda(), d.cuda(), bg.cuda())
    torch.testing.assert_close(a.rgb, b.rgb.cpu(), rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(a.opacity, b.opacity.cpu(), rtol=1e-3, atol=1e-3)
