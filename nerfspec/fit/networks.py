"""Coordinate networks for the fit tasks, built by mapping name like the NeRF fields.

``none | basic | pe | gauss`` feed an ``Encoding`` into the NeRF fields' ``MLPTrunk`` and a
linear read-out; ``rffca`` is the RFF-CA network with a linear read-out. ``pe`` here is Tancik
et al.'s log-linear positional encoding (frequencies scale^(j/m) per axis, the scale swept like
the Gaussian sigma), not NeRF's octaves. Other mappings plug in through ``ENCODERS``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable

import torch
from torch import Tensor, nn

from nerfspec.config import RFFCAConfig
from nerfspec.encodings import (
    BasicEncoding,
    Encoding,
    GaussianFourierEncoding,
    IdentityEncoding,
    LogLinearEncoding,
)
from nerfspec.errors import ConfigError
from nerfspec.fields.mlp import MLPTrunk
from nerfspec.fields.rffca import RFFCANetwork
from nerfspec.precision import network_autocast

def hashgrid(in_dim: int, features: int, scale: float, generator: torch.Generator) -> Encoding:
    """The multiresolution hash encoding (3D only) with its finest resolution = ``scale``."""
    from nerfspec.encodings.hashgrid import HashGridEncoding

    if in_dim != 3:
        raise ConfigError("mapping hashgrid takes 3D points: use it with nerfspec fit shape")
    return HashGridEncoding(max_resolution=max(16, int(scale)), generator=generator)


# name -> (in_dim, features, scale, generator) -> Encoding; a new encoding registers here.
EncoderFactory = Callable[[int, int, float, torch.Generator], Encoding]
ENCODERS: dict[str, EncoderFactory] = {
    "none": lambda d, m, s, g: IdentityEncoding(d),
    "basic": lambda d, m, s, g: BasicEncoding(d),
    "pe": lambda d, m, s, g: LogLinearEncoding(d, m, s),
    "gauss": lambda d, m, s, g: GaussianFourierEncoding(d, m, s, g),
    "hashgrid": hashgrid,
}
SCALED = ("pe", "gauss", "rffca", "hashgrid")  # mappings with a scale to sweep
MAPPINGS = tuple(ENCODERS) + ("rffca",)


class CoordinateMLP(nn.Module):
    """logits = W_out MLPTrunk(gamma(v)) + b: gamma in float32, trunk and read-out under the
    precision's autocast (bf16 where the hardware has it)."""

    def __init__(self, encoding: Encoding, out_dim: int, depth: int, width: int, precision: str = "auto"):
        super().__init__()
        self.encoding, self.precision = encoding, precision
        self.trunk = MLPTrunk(encoding.out_dim, depth, width, [])
        self.out = nn.Linear(width, out_dim)

    def forward(self, v: Tensor) -> Tensor:
        feats = self.encoding(v)
        with network_autocast(v, self.precision):
            return self.out(self.trunk(feats)).float()


class RFFCARegressor(nn.Module):
    """logits = W_out q_L(v) + b: the RFF-CA network of the fields with a linear read-out."""

    def __init__(self, net: RFFCANetwork, out_dim: int, precision: str = "auto"):
        super().__init__()
        self.net, self.precision = net, precision
        self.out = nn.Linear(net.dim, out_dim)

    def set_fraction(self, fraction: float) -> None:
        self.net.set_fraction(fraction)

    def forward(self, v: Tensor) -> Tensor:
        with network_autocast(v, self.precision):
            return self.out(self.net(v)).float()


def build_network(mapping: str, in_dim: int, out_dim: int, scale: float, *, depth: int = 4,
                  width: int = 256, features: int = 256, rffca: RFFCAConfig | None = None,
                  precision: str = "auto", seed: int = 0) -> nn.Module:
    """The network for ``mapping``; ``scale`` is pe's top frequency, gauss's sigma or rffca's
    base sigma (cycles per unit); random parts (B, weights, the bank) come from ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    if mapping == "rffca":
        cfg = replace(rffca or RFFCAConfig(), sigma=float(scale))
        return RFFCARegressor(RFFCANetwork.from_config(cfg, in_dim, gen), out_dim, precision)
    if mapping not in ENCODERS:
        raise ConfigError(f"unknown mapping {mapping!r} (choose from {', '.join(MAPPINGS)})")
    return CoordinateMLP(ENCODERS[mapping](in_dim, features, float(scale), gen), out_dim, depth, width, precision)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
