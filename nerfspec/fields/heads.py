"""What every field shares: box normalisation, density activations and the density/colour heads.

Precision follows nerfspec/precision.py: the heads' matrix products run under the field's
network autocast, the view-direction encoding and the activations in float32."""

from __future__ import annotations

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


class DensityColourHeads(nn.Module):
    """sigma from a linear map of the features; rgb from the features (and the view direction).

    With ``view_dirs``: rgb = sigmoid(W2 relu(W1 [W0 h, PE(d)])), the NeRF colour branch; without:
    rgb = sigmoid(W h). ``encode_dirs`` computes PE(d) in float32 (call it outside any autocast);
    ``forward`` takes h and PE(d) and returns raw density logits (N,) and colour logits (N, 3).
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

    def encode_dirs(self, dirs: Tensor | None) -> Tensor | None:
        """PE((d + 1) / 2) (N, dir_dim) of unit directions (N, 3) in float32, or None without
        view dependence; (d + 1) / 2 puts unit vectors in the unit box."""
        if not self.view_dirs:
            return None
        if dirs is None:
            raise ValueError("this field needs view directions")
        return self.dir_encoding((dirs.float() + 1.0) * 0.5)

    def colour_logits(self, h: Tensor, dir_feats: Tensor | None) -> Tensor:
        """Colour logits (N, 3) from features h (N, width) and PE(d) (or None)."""
        if self.view_dirs:
            bottleneck = self.bottleneck(h)
            return self.colour(torch.cat([bottleneck, dir_feats.to(bottleneck.dtype)], dim=-1))
        return self.colour(h)

    def forward(self, h: Tensor, dir_feats: Tensor | None) -> tuple[Tensor, Tensor]:
        return self.density_logit(h), self.colour_logits(h, dir_feats)
