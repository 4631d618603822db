"""The multiresolution hash encoding (Mueller et al. 2022) as an ``Encoding``.

gamma(v) = [g_0(v), ..., g_{L-1}(v)], g_l(v) = sum_k w_k(v) theta_l[row_l(corner_k(v))] (F values
per level, see ``hashgrid_math``). All levels' tables theta_l live back to back in one
parameter ``table`` of shape (sum_l T_l, F), initialised U(-1e-4, 1e-4) and saved with the
model. Two implementations compute the same features:

- ``cpp``: the C++ CPU op of ``hashgrid_cpp`` (forward, table gradient and, when v needs one,
  the gradient in v);
- ``torch``: plain PyTorch (any device).

``backend = "auto"`` takes ``cpp`` for float32 CPU tables when the op builds, and ``torch``
otherwise. Features are float32 whatever the ambient autocast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nerfspec.encodings.coarse_to_fine import band_weights, window_weights
from nerfspec.encodings.fourier import Encoding
from nerfspec.encodings.hashgrid_cpp import cpu_op_available, hash_grid_cpu
from nerfspec.encodings.hashgrid_math import (
    level_cells,
    level_index_terms,
    level_is_dense,
    level_offsets,
    level_resolutions,
    level_rows,
    level_table_sizes,
    level_weights_trilinear,
)

BACKENDS = ("auto", "torch", "cpp")


@dataclass(frozen=True)
class GridLayout:
    """Where each level lives in the table: resolutions N_l, row offsets (L + 1), dense flags."""

    resolutions: list[int]
    offsets: list[int]
    dense: list[int]
    table_size: int  # T, the rows of a hashed level

    @classmethod
    def build(cls, levels: int, base_resolution: int, max_resolution: int, log2_table_size: int) -> "GridLayout":
        table_size = 2 ** log2_table_size
        res = level_resolutions(levels, base_resolution, max_resolution)
        return cls(res, level_offsets(level_table_sizes(res, table_size)),
                   [int(level_is_dense(r, table_size)) for r in res], table_size)

    @property
    def rows(self) -> int:
        return self.offsets[-1]

    def tensors(self, device=None) -> "LevelTensors":
        """The layout as tensors for ``hash_grid_torch``."""
        mult, masks = level_index_terms(self.resolutions, self.dense, self.table_size)
        t = LevelTensors(torch.tensor(self.resolutions, dtype=torch.float32), mult, masks,
                         torch.tensor(self.offsets[:-1]), torch.tensor(self.dense).bool())
        return LevelTensors(*(x.to(device) for x in t))


class LevelTensors(NamedTuple):
    """Every level's constants: resolutions (L,) float32, index multipliers (L, 3) and masks (L,)
    (``level_index_terms``), row offsets (L,) int64, dense flags (L,) bool."""

    resolutions: Tensor
    multipliers: Tensor
    masks: Tensor
    offsets: Tensor
    dense: Tensor


def smoothstep(f: Tensor) -> Tensor:
    """s(f) = f^2 (3 - 2 f): 0 and 1 at the ends with zero slope there, s'(f) = 6 f (1 - f)."""
    return f * f * (3.0 - 2.0 * f)


def hash_grid_torch(v: Tensor, table: Tensor, layout: GridLayout, levels: LevelTensors | None = None,
                    smooth_gradient: bool = False) -> Tensor:
    """gamma(v) in plain PyTorch: (N, 3) points in [0, 1]^3, (rows, F) table -> (N, L F).

    All levels at once: one index computation gives the (N, L, 8) corner rows, and one
    ``embedding_bag`` gathers and blends them (weighted sum of 8 rows per level), whose backward
    scatter-adds into the table gradient once for all levels. The op count does not depend on L.
    ``levels``: ``layout.tensors()`` on v's device, when the caller keeps them there. With
    ``smooth_gradient`` the gradient in v is that of the blend with ``smoothstep`` weights per
    axis (straight through: the features, and the table's gradient, stay trilinear).
    """
    lv = layout.tensors(v.device) if levels is None else levels
    base, frac = level_cells(v.detach() if smooth_gradient else v, lv.resolutions.to(v.dtype))
    rows = level_rows(base, lv.multipliers, lv.masks, lv.offsets, lv.dense)
    n, n_levels = v.shape[0], len(layout.resolutions)

    def blend(weights: Tensor, tab: Tensor) -> Tensor:
        return F.embedding_bag(rows.view(n * n_levels, 8), tab, per_sample_weights=weights.reshape(n * n_levels, 8),
                               mode="sum").view(n, n_levels * table.shape[1])

    feats = blend(level_weights_trilinear(frac).to(table.dtype), table)
    if smooth_gradient and v.requires_grad:
        soft = blend(level_weights_trilinear(smoothstep(level_cells(v, lv.resolutions.to(v.dtype))[1])).to(table.dtype),
                     table.detach())
        feats = feats + (soft - soft.detach())
    return feats


class HashGridEncoding(Encoding):
    """(N, 3) points in [0, 1]^3 -> (N, L F) hash-grid features (float32).

    ``window`` in [0, L] eases the levels in, coarse to fine, with the weights of
    ``window_weights`` (the default ``window = L`` leaves every level at weight 1).
    ``position_gradient``: "exact" (the trilinear blend's derivative, which jumps at every cell
    face) or "smooth" (the smoothstep blend's, for refining camera poses through the positions).
    """

    def __init__(self, levels: int = 16, features_per_level: int = 2, log2_table_size: int = 19,
                 base_resolution: int = 16, max_resolution: int = 2048, backend: str = "auto",
                 init_scale: float = 1e-4, generator: torch.Generator | None = None,
                 position_gradient: str = "exact"):
        super().__init__()
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        self.in_dim, self.levels, self.features_per_level = 3, levels, features_per_level
        self.out_dim = levels * features_per_level
        self.layout = GridLayout.build(levels, base_resolution, max_resolution, log2_table_size)
        init = torch.rand(self.layout.rows, features_per_level, generator=generator)
        self.table = nn.Parameter((init * 2.0 - 1.0) * init_scale)
        if position_gradient not in ("exact", "smooth"):
            raise ValueError(f"position_gradient must be exact or smooth, got {position_gradient!r}")
        self.backend = backend
        self.smooth_gradient = position_gradient == "smooth"
        self.window = float(levels)
        # the layout as device tensors, moved with the module and not saved
        for name, t in self.layout.tensors()._asdict().items():
            self.register_buffer(f"level_{name}", t, persistent=False)

    first_open = 1  # the coarsest level is all the network would see

    @property
    def bands(self) -> int:
        """Coarse-to-fine bands: the levels."""
        return self.levels

    def level_weights(self) -> Tensor:
        """(L,) weights of the levels under the current window."""
        return window_weights(self.window, self.levels)

    def feature_bands(self) -> Tensor:
        """(L F,) level of each feature (features are level-major)."""
        return torch.arange(self.levels).repeat_interleave(self.features_per_level)

    def uses_cpu_op(self, v: Tensor) -> bool:
        """Whether ``forward(v)`` runs the C++ op (else the PyTorch path)."""
        if self.backend == "torch" or v.device.type != "cpu":
            return False
        if self.backend == "cpp":
            if not cpu_op_available():
                raise RuntimeError("hash-grid backend 'cpp' requested but the C++ op is unavailable")
            return True
        return self.table.dtype == torch.float32 and cpu_op_available()

    def forward(self, v: Tensor) -> Tensor:
        with torch.autocast(device_type=v.device.type, enabled=False):
            v = v.float().clamp(0.0, 1.0)
            if self.uses_cpu_op(v):
                lay = self.layout
                feats = hash_grid_cpu(v, self.table, lay.offsets, lay.resolutions, lay.dense, self.smooth_gradient)
            else:
                levels = LevelTensors(*(getattr(self, f"level_{k}") for k in LevelTensors._fields))
                feats = hash_grid_torch(v, self.table, self.layout, levels, self.smooth_gradient)
            if self.window < self.levels:
                feats = feats * band_weights(self.window, self.feature_bands()).to(feats)
        return feats

    @torch.no_grad()
    def level_rms(self) -> list[float]:
        """sqrt(mean(theta_l^2)) of each level's table: how far training has moved each level."""
        t, off = self.table, self.layout.offsets
        return [float(t[off[l]:off[l + 1]].square().mean().sqrt()) for l in range(self.levels)]
