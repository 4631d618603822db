"""What every field shares: box normalisation, density activations and the density/colour heads."""

from __future__ import annotations

import contextlib
import functools

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nerfspec.encodings import PositionalEncoding


class _TruncExp(torch.autograd.Function):
    """exp(x) whose gradient is exp(min(x, 15)), so a large logit cannot blow up a step."""

    @staticmethod
    def forward(ctx, x):  # noqa: D401
        ctx.save_for_backward(x)
        return torch.exp(x)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * torch.exp(x.clamp(max=15.0))


def density_activation(raw: Tensor, kind: str) -> Tensor:
    """sigma = act(raw): ``softplus`` log(1 + e^raw), ``trunc_exp`` e^raw, ``relu`` max(raw, 0)."""
    if kind == "softplus":
        return F.softplus(raw)
    if kind == "trunc_exp":
        return _TruncExp.apply(raw)
    if kind == "relu":
        return F.relu(raw)
    raise ValueError(f"unknown density activation {kind!r}")


def normalise_to_box(x: Tensor, aabb: Tensor) -> Tensor:
    """Map world points (N, 3) in the box aabb = [min(3), max(3)] to [0, 1]^3."""
    lo, hi = aabb[:3], aabb[3:]
    return (x - lo) / (hi - lo)


@functools.lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware (AMX or AVX-512 BF16); without it PyTorch
    emulates bf16 matmuls, which runs far slower than float32."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` -> ``bf16`` on CUDA devices that support it and on CPUs with bf16 units, else ``fp32``."""
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_has_bf16() else "fp32"


def autocast_context(x: Tensor, precision: str):
    """bf16 autocast on the device of ``x`` when ``precision`` resolves to bf16, else nothing."""
    if resolve_precision(precision, x.device) == "bf16":
        return torch.autocast(device_type=x.device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


class DensityColourHeads(nn.Module):
    """sigma from a linear map of the features; rgb from the features (and the view direction).

    With ``view_dirs``: rgb = sigmoid(W2 relu(W1 [W0 h, PE(d)])), the NeRF colour branch; without:
    rgb = sigmoid(W h). ``forward`` returns raw density logits (N,) and rgb (N, 3).
    """

    def __init__(self, width: int, view_dirs: bool, dir_octaves: int = 4, colour_width: int = 128):
        super().__init__()
        self.view_dirs = view_dirs
        self.sigma = nn.Linear(width, 1)
        if view_dirs:
            self.dir_encoding = PositionalEncoding(3, dir_octaves, include_input=True)
            self.bottleneck = nn.Linear(width, width)
            self.colour = nn.Sequential(
                nn.Linear(width + self.dir_encoding.out_dim, colour_width), nn.ReLU(),
                nn.Linear(colour_width, 3),
            )
        else:
            self.colour = nn.Linear(width, 3)

    def density_logit(self, h: Tensor) -> Tensor:
        return self.sigma(h).squeeze(-1)

    def forward(self, h: Tensor, dirs: Tensor | None) -> tuple[Tensor, Tensor]:
        raw = self.density_logit(h)
        if self.view_dirs:
            if dirs is None:
                raise ValueError("this field needs view directions")
            # dirs are unit vectors in [-1, 1]; (d + 1) / 2 puts them in the unit box.
            enc = self.dir_encoding((dirs + 1.0) * 0.5).to(h.dtype)
            rgb = self.colour(torch.cat([self.bottleneck(h), enc], dim=-1))
        else:
            rgb = self.colour(h)
        return raw, torch.sigmoid(rgb.float())
