"""The one precision policy (nerfspec/precision.py): what runs in bf16 and what stays float32."""

import pytest
import torch

from nerfspec import precision
from nerfspec.config import config_from_dict
from nerfspec.models import build_models
from nerfspec.precision import float32_region, network_autocast, resolve_precision


def test_resolve_precision(monkeypatch):
    assert resolve_precision("fp32", "cpu") == "fp32" and resolve_precision("bf16", "cpu") == "bf16"
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: True)
    assert resolve_precision("auto", "cpu") == "bf16"
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: False)
    assert resolve_precision("auto", "cpu") == "fp32"
    with pytest.raises(ValueError, match="precision"):
        resolve_precision("fp16", "cpu")


def test_network_autocast_and_float32_region():
    x = torch.randn(4, 8)
    w = torch.randn(8, 8)
    with network_autocast(x, "bf16"):
        assert (x @ w).dtype == torch.bfloat16
        with float32_region(x):
            assert (x @ w).dtype == torch.float32
    with network_autocast(x, "fp32"):
        assert (x @ w).dtype == torch.float32


@pytest.mark.parametrize("encoding", ["gauss", "pe"])
def test_bf16_field_keeps_encodings_and_directions_in_float32(encoding):
    cfg = config_from_dict({"field": {"encoding": encoding, "depth": 2, "width": 32, "precision": "bf16",
                                      "view_dirs": True, "gauss": {"features": 16, "sigma": 20.0}}})
    field, _ = build_models(cfg, torch.device("cpu"))
    seen = {}
    field.encoding.register_forward_hook(lambda m, i, o: seen.__setitem__("pos", o))
    field.heads.dir_encoding.register_forward_hook(lambda m, i, o: seen.__setitem__("dir", o))
    field.trunk.layers[0].register_forward_hook(lambda m, i, o: seen.__setitem__("trunk", o))
    x = torch.rand(256, 3) * 3 - 1.5
    d = torch.nn.functional.normalize(torch.randn(256, 3), dim=-1)
    sigma, rgb = field(x, d)
    assert seen["pos"].dtype == torch.float32 and seen["dir"].dtype == torch.float32
    assert seen["trunk"].dtype == torch.bfloat16  # the network's products do run in bf16
    assert sigma.dtype == torch.float32 and rgb.dtype == torch.float32
    # exactly the float32 features: no bf16 rounding of the projections 2 pi b . v
    v = (x - field.aabb[:3]) / (field.aabb[3:] - field.aabb[:3])
    assert torch.equal(seen["pos"], field.encoding(v))
    assert torch.equal(seen["dir"], field.heads.dir_encoding((d + 1) * 0.5))


def test_cuda_auto_precision_ignores_emulated_bf16(monkeypatch):
    """A GPU that only emulates bf16 (T4, V100) trains in float32."""
    from nerfspec.precision import resolve_precision

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation)
    assert resolve_precision("auto", "cuda") == "fp32"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    assert resolve_precision("auto", "cuda") == "bf16"
