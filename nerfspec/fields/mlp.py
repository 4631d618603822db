"""The MLP field: encoding -> ReLU trunk (depth x width, optional skips) -> density and colour."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nerfspec.encodings import Encoding, PositionalEncoding
from nerfspec.fields.base import RadianceField


class MLPTrunk(nn.Module):
    """h_{l+1} = relu(W_l [h_l, gamma?] + b_l); layers listed in ``skips`` see gamma(v) again."""

    def __init__(self, in_dim: int, depth: int, width: int, skips: list[int]):
        super().__init__()
        self.skips = set(skips)
        layers = []
        for i in range(depth):
            fan_in = in_dim if i == 0 else width
            if i in self.skips and i > 0:
                fan_in += in_dim
            layers.append(nn.Linear(fan_in, width))
        self.layers = nn.ModuleList(layers)

    def forward(self, feats: Tensor) -> Tensor:
        h = feats
        for i, layer in enumerate(self.layers):
            if i in self.skips and i > 0:
                h = torch.cat([h, feats], dim=-1)
            h = torch.relu(layer(h))
        return h


class MLPField(RadianceField):
    """sigma, rgb = heads(MLP(gamma(normalise(x))), d); the trunk never knows which gamma it has."""

    def __init__(self, encoding: Encoding, aabb: Tensor, depth: int = 4, width: int = 256,
                 skips: list[int] = (), view_dirs: bool = True, dir_octaves: int = 4,
                 density_activation: str = "softplus", density_bias: float = -1.0,
                 precision: str = "auto"):
        super().__init__(aabb, width, view_dirs, dir_octaves, density_activation, density_bias,
                         precision)
        self.encoding = encoding
        self.trunk = MLPTrunk(encoding.out_dim, depth, width, list(skips))

    def maskable(self):
        """The encoding when it has bands to open (pe and gauss)."""
        return self.encoding if hasattr(self.encoding, "bands") else None

    def scalars(self) -> dict[str, float]:
        out = super().scalars()
        if isinstance(self.encoding, PositionalEncoding) and self.c2f:
            out["pe/window"] = float(self.encoding.window)
        return out

    def features(self, v: Tensor) -> Tensor:
        feats = self.encoding(v)  # float32: cos/sin of large arguments need it
        with self.autocast(v):
            return self.trunk(feats)
