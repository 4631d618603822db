"""The hash-grid field of Mueller et al. (2022): hash encoding -> two small MLPs.

    h = hashgrid(normalise(x))                       (N, L F)     float32
    [s, g] = MLP_density(h)                          (N, 1 + G)   s the density logit
    sigma = act(s + density_bias)                                 trunc_exp by default
    rgb = sigmoid(MLP_colour([s, g, SH(d)]))                      SH(d): spherical harmonics of d

The colour MLP sees all 1 + G outputs of the density MLP, as in the paper. The encodings (hash
grid, view direction) run in float32 outside any autocast; only the MLPs run under the field's
precision (bf16 where ``field.precision`` resolves to it; nerfspec/precision.py). The field keeps
the verbs of ``FieldBase`` (its own ``geometry``, ``colour``, ``set_progress`` and ``scalars``;
``param_groups`` puts the tables in the "encoding" group, which ``train.lr_encoding`` sets, the
MLPs in the "network" group).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nerfspec.config import HashGridConfig
from nerfspec.encodings import PositionalEncoding
from nerfspec.encodings.coarse_to_fine import resolve_c2f
from nerfspec.encodings.hashgrid import HashGridEncoding
from nerfspec.encodings.spherical import SphericalHarmonicsEncoding
from nerfspec.fields.base import FieldBase
from nerfspec.fields.heads import density_activation
from nerfspec.precision import network_autocast


def small_mlp(in_dim: int, width: int, hidden_layers: int, out_dim: int) -> nn.Sequential:
    """in_dim -> [Linear(width), ReLU] x hidden_layers -> Linear(out_dim), no output activation."""
    layers: list[nn.Module] = []
    for i in range(hidden_layers):
        layers += [nn.Linear(in_dim if i == 0 else width, width), nn.ReLU()]
    layers.append(nn.Linear(width if hidden_layers else in_dim, out_dim))
    return nn.Sequential(*layers)


class HashGridField(FieldBase):
    """sigma, rgb at world points x (N, 3) in the box ``aabb`` (see the module docstring)."""

    def __init__(self, cfg: HashGridConfig, aabb: Tensor, view_dirs: bool = True, dir_octaves: int = 4,
                 density_bias: float = -1.0, precision: str = "auto",
                 generator: torch.Generator | None = None):
        super().__init__()
        self.register_buffer("aabb", aabb.detach().float().clone())
        self.encoding = HashGridEncoding(cfg.levels, cfg.features_per_level, cfg.log2_table_size,
                                         cfg.base_resolution, cfg.max_resolution, cfg.backend,
                                         generator=generator, position_gradient=cfg.position_gradient)
        self.density_mlp = small_mlp(self.encoding.out_dim, cfg.density_width, cfg.density_layers,
                                     1 + cfg.geo_features)
        self.view_dirs = view_dirs
        self.dir_encoding: nn.Module | None = None
        dir_dim = 0
        if view_dirs:
            self.dir_encoding = (SphericalHarmonicsEncoding(cfg.sh_degree) if cfg.dir_encoding == "sh"
                                 else PositionalEncoding(3, dir_octaves, include_input=True))
            dir_dim = self.dir_encoding.out_dim
        self.colour_mlp = small_mlp(1 + cfg.geo_features + dir_dim, cfg.colour_width, cfg.colour_layers, 3)
        self.activation, self.density_bias, self.precision = cfg.density_activation, density_bias, precision
        self.c2f = resolve_c2f([], cfg.window_fraction)  # build_field sets field.c2f's, when given

    def _geometry(self, x: Tensor) -> Tensor:
        """(N, 1 + G) density-MLP outputs in the autocast dtype; column 0 is the density logit."""
        h = self.encoding(self.unit_coords(x))
        with network_autocast(x, self.precision):
            return self.density_mlp(h)

    def _sigma(self, geo: Tensor) -> Tensor:
        return density_activation(geo[:, 0].float() + self.density_bias, self.activation)

    def _encode_dirs(self, dirs: Tensor) -> Tensor:
        if isinstance(self.dir_encoding, PositionalEncoding):
            return self.dir_encoding((dirs + 1.0) * 0.5)  # unit vectors into the unit box
        return self.dir_encoding(dirs)

    def geometry(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """sigma (N,) >= 0 (float32) and the density MLP's outputs (N, 1 + G) colour reads."""
        geo = self._geometry(x)
        return self._sigma(geo), geo

    def colour(self, geo: Tensor, dirs: Tensor | None) -> Tensor:
        """rgb (N, 3) in [0, 1], float32, from ``geometry``'s outputs and view directions."""
        inputs = geo
        if self.view_dirs:
            if dirs is None:
                raise ValueError("this field needs view directions")
            enc = self._encode_dirs(dirs.float())  # float32, outside the autocast
            inputs = torch.cat([geo, enc.to(geo.dtype)], dim=-1)
        with network_autocast(geo, self.precision):
            rgb = self.colour_mlp(inputs)
        return torch.sigmoid(rgb.float())

    def maskable(self):
        """Coarse-to-fine opens the levels (the coarsest always open)."""
        return self.encoding

    def scalars(self) -> dict[str, float]:
        """The level window and the RMS of every level's table entries, for TensorBoard."""
        out = {"hashgrid/window": float(self.encoding.window), **super().scalars()}
        for l, rms in enumerate(self.encoding.level_rms()):
            out[f"hashgrid/level_{l:02d}_rms"] = rms
        return out
