"""Build encodings and fields by the names used in configs."""

from __future__ import annotations

import torch
from torch import Tensor

from nerfspec.config import FieldConfig
from nerfspec.encodings import (
    BasicEncoding,
    Encoding,
    GaussianFourierEncoding,
    IdentityEncoding,
    PositionalEncoding,
)
from nerfspec.encodings.coarse_to_fine import resolve_c2f
from nerfspec.fields.base import FieldBase
from nerfspec.fields.mlp import MLPField


def build_encoding(cfg: FieldConfig, generator: torch.Generator) -> Encoding:
    """The position mapping named by ``cfg.encoding`` (none | basic | pe | gauss)."""
    if cfg.encoding == "none":
        return IdentityEncoding(3)
    if cfg.encoding == "basic":
        return BasicEncoding(3)
    if cfg.encoding == "pe":
        return PositionalEncoding(3, cfg.pe.octaves, cfg.pe.include_input)
    if cfg.encoding == "gauss":
        return GaussianFourierEncoding(3, cfg.gauss.features, cfg.gauss.sigma, generator, cfg.gauss.bands)
    raise ValueError(f"encoding {cfg.encoding!r} has no MLP mapping")


def build_field(cfg: FieldConfig, aabb: Tensor, seed: int = 0, unbounded: bool = False) -> FieldBase:
    """The field for ``cfg``; random parts (B, initial weights) come from ``seed``; with
    ``unbounded`` its encoding sees all of space contracted (FieldBase.unit_coords). Its
    coarse-to-fine schedule is ``field.c2f``, or an encoding's older ``window_fraction``."""
    field = _build_field(cfg, aabb, seed)
    field.unbounded = unbounded
    older = {"pe": cfg.pe.window_fraction, "hashgrid": cfg.hashgrid.window_fraction}.get(cfg.encoding, 0.0)
    field.c2f = resolve_c2f(cfg.c2f, older)
    return field


def _build_field(cfg: FieldConfig, aabb: Tensor, seed: int) -> FieldBase:
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    common = dict(view_dirs=cfg.view_dirs, dir_octaves=cfg.dir_octaves,
                  density_activation=cfg.density_activation, density_bias=cfg.density_bias,
                  precision=cfg.precision)
    if cfg.encoding == "hashgrid":
        from nerfspec.fields.hashgrid import HashGridField

        return HashGridField(cfg.hashgrid, aabb, view_dirs=cfg.view_dirs, dir_octaves=cfg.dir_octaves,
                             density_bias=cfg.density_bias, precision=cfg.precision, generator=generator)
    if cfg.encoding == "rffca":
        from nerfspec.fields.rffca import RFFCAField

        return RFFCAField(cfg.rffca, aabb, generator=generator, **common)
    encoding = build_encoding(cfg, generator)
    return MLPField(encoding, aabb, cfg.depth, cfg.width, cfg.skips, **common)
