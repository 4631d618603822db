"""The maths of the multiresolution hash encoding (Mueller et al. 2022), as pure functions.

Level l = 0..L-1 lays a grid of N_l cells per axis over the unit box, so its vertices have
integer coordinates 0..N_l. A point v in [0, 1]^3 falls in the cell with corner
base = floor(v N_l); its feature is the trilinear blend of the feature vectors stored at the
cell's 8 corners. A corner's row in the level's table is its dense index when the level's
(N_l + 1)^3 vertices fit in the table (T_l = (N_l + 1)^3 <= T) and its spatial hash otherwise.

Corner k = 0..7 of a cell is offset by (k & 1, (k >> 1) & 1, (k >> 2) & 1) from ``base``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

PRIMES = (1, 2654435761, 805459861)


def level_resolutions(levels: int, base_resolution: int, max_resolution: int) -> list[int]:
    """N_l = floor(N_min b^l), b = exp((ln N_max - ln N_min) / (L - 1)), l = 0..L-1.

    N_0 = N_min and N_{L-1} = N_max exactly (a relative 1e-9 guards the floor against b^l
    landing a rounding error below an integer). One level gives [N_min].
    """
    if levels == 1:
        return [base_resolution]
    growth = math.exp((math.log(max_resolution) - math.log(base_resolution)) / (levels - 1))
    return [int(math.floor(base_resolution * growth ** l * (1 + 1e-9))) for l in range(levels)]


def level_is_dense(resolution: int, table_size: int) -> bool:
    """Whether a level's (N_l + 1)^3 vertices fit in T entries, so it needs no hash."""
    return (resolution + 1) ** 3 <= table_size


def level_table_sizes(resolutions: list[int], table_size: int) -> list[int]:
    """T_l = min(T, (N_l + 1)^3): a dense level stores one row per vertex, a hashed one T rows."""
    return [min(table_size, (r + 1) ** 3) for r in resolutions]


def level_offsets(sizes: list[int]) -> list[int]:
    """Row offsets of the levels in one table holding them back to back: [0, T_0, T_0 + T_1, ...]
    (L + 1 entries; the last is the total number of rows)."""
    offsets = [0]
    for s in sizes:
        offsets.append(offsets[-1] + s)
    return offsets


def corner_offsets(device: torch.device | None = None) -> Tensor:
    """(8, 3) int32 offsets of the cell corners: row k = (k & 1, (k >> 1) & 1, (k >> 2) & 1)."""
    k = torch.arange(8, dtype=torch.int32, device=device)
    return torch.stack([k & 1, (k >> 1) & 1, (k >> 2) & 1], dim=-1)


def grid_cell(v: Tensor, resolution: int) -> tuple[Tensor, Tensor]:
    """The cell of level resolution N holding each point, and the point's place inside it.

    p = v N;  base = clamp(floor(p), 0, N - 1);  frac = p - base,
    so v = 1 lies in the last cell with frac = 1 and every frac is in [0, 1] for v in [0, 1].

    Args:
        v: (N, 3) float points in [0, 1]^3.
        resolution: N_l, cells per axis.
    Returns:
        base (N, 3) int32 lower corner, frac (N, 3) in v's dtype (differentiable in v).
    """
    p = v * resolution
    base = p.detach().floor().clamp_(0, resolution - 1)
    return base.to(torch.int32), p - base


def trilinear_weights(frac: Tensor) -> Tensor:
    """w_k = prod_i (frac_i if bit i of k is set else 1 - frac_i), for the 8 corners k.

    Args:
        frac: (N, 3) positions inside the cell, in [0, 1].
    Returns:
        (N, 8) weights, non-negative and summing to 1; w_k = 1 at corner k.
    """
    bits = corner_offsets(frac.device).bool()  # (8, 3)
    f = frac[:, None, :]
    return torch.where(bits, f, 1.0 - f).prod(dim=-1)


def dense_index(corners: Tensor, resolution: int) -> Tensor:
    """i = x + (N + 1) y + (N + 1)^2 z for integer corners (..., 3) in [0, N]^3, same int dtype."""
    s = resolution + 1
    return corners[..., 0] + s * (corners[..., 1] + s * corners[..., 2])


def spatial_hash(corners: Tensor, table_size: int) -> Tensor:
    """h(x) = (x_0 * 1  XOR  x_1 * 2654435761  XOR  x_2 * 805459861) mod T, T a power of two.

    The products are taken modulo 2^32 as in the paper (uint32 arithmetic); since T divides
    2^32, the result is the same whether the products wrap at 32 bits or not. Computed in int64.

    Args:
        corners: (..., 3) non-negative integer corners.
        table_size: T, a power of two.
    Returns:
        (...) int64 rows in [0, T).
    """
    if table_size & (table_size - 1):
        raise ValueError(f"table size {table_size} is not a power of two")
    c = corners.long()
    h = (c[..., 0] * PRIMES[0]) ^ (c[..., 1] * PRIMES[1]) ^ (c[..., 2] * PRIMES[2])
    return h & (table_size - 1)


def level_indices(base: Tensor, resolution: int, table_size: int, dense: bool) -> Tensor:
    """Rows of the 8 corners of each cell in the level's own table, dense or hashed.

    Args:
        base: (N, 3) int lower corners from ``grid_cell``.
        resolution: N_l.
        table_size: T (the hashed levels' size, a power of two).
        dense: index densely (needs (N_l + 1)^3 rows) instead of hashing into T rows.
    Returns:
        (N, 8) int64 rows, in [0, (N_l + 1)^3) when dense, in [0, T) when hashed.
    """
    corners = base.long()[:, None, :] + corner_offsets(base.device).long()  # (N, 8, 3)
    if dense:
        return dense_index(corners, resolution)
    return spatial_hash(corners, table_size)


# -- every level at once: the same maths as grid_cell / level_indices / trilinear_weights, with
# the levels along a tensor dimension so the op count does not grow with L

def level_cells(v: Tensor, resolutions: Tensor) -> tuple[Tensor, Tensor]:
    """``grid_cell`` for every level: p = v N_l, base = clamp(floor(p), 0, N_l - 1), frac = p - base.

    Args:
        v: (N, 3) float points in [0, 1]^3.
        resolutions: (L,) N_l, in v's dtype.
    Returns:
        base (N, L, 3) int64 lower corners, frac (N, L, 3) in v's dtype (differentiable in v).
    """
    p = v[:, None, :] * resolutions[:, None]
    base = torch.minimum(p.detach().floor().clamp_(min=0), (resolutions - 1)[:, None])
    return base.long(), p - base


def level_weights_trilinear(frac: Tensor) -> Tensor:
    """``trilinear_weights`` for every level: (N, L, 3) -> (N, L, 8), w_k = w_x w_y w_z with
    w_i = frac_i where bit i of k is set, else 1 - frac_i (multiplied in the order x, y, z)."""
    w = torch.stack([1.0 - frac, frac], dim=-1)  # (N, L, 3, 2)
    wx, wy, wz = w.unbind(-2)
    return (wx[..., None, None, :] * wy[..., None, :, None] * wz[..., :, None, None]).flatten(-3)


def level_index_terms(resolutions: list[int], dense: list[int], table_size: int) -> tuple[Tensor, Tensor]:
    """Per-axis multipliers (L, 3) and masks (L,) int64 that make ``level_rows`` one formula for
    dense and hashed levels: dense (1, N_l + 1, (N_l + 1)^2) with no mask (-1, every bit),
    hashed the primes with mask T - 1."""
    if table_size & (table_size - 1):
        raise ValueError(f"table size {table_size} is not a power of two")
    mult = [[1, r + 1, (r + 1) ** 2] if d else list(PRIMES) for r, d in zip(resolutions, dense)]
    masks = [-1 if d else table_size - 1 for d in dense]
    return torch.tensor(mult, dtype=torch.long), torch.tensor(masks, dtype=torch.long)


def level_rows(base: Tensor, multipliers: Tensor, masks: Tensor, offsets: Tensor, dense: Tensor) -> Tensor:
    """Rows in the whole table of the 8 corners of every level's cell: ``level_indices`` plus the
    level's offset, for all levels in one pass.

    With per-axis terms a_i = (c_i m_i) AND mask (``level_index_terms``) of corner c = the (x, y, z)
    bits of k added to base: dense levels a_x + a_y + a_z = x + (N_l + 1) y + (N_l + 1)^2 z,
    hashed a_x XOR a_y XOR a_z = the spatial hash mod T (T a power of two divides 2^64, so
    masking each product first gives the same bits).

    Args:
        base: (N, L, 3) int64 lower corners (``level_cells``).
        multipliers: (L, 3), masks: (L,) from ``level_index_terms``.
        offsets: (L,) int64 first row of each level.  dense: (L,) bool, levels indexed densely.
    Returns:
        (N, L, 8) int64 rows.
    """
    c = torch.stack([base, base + 1], dim=-1)  # (N, L, 3, 2)
    ax, ay, az = ((c * multipliers[:, :, None]) & masks[:, None, None]).unbind(-2)  # (N, L, 2) each
    x, y, z = ax[..., None, None, :], ay[..., None, :, None], az[..., :, None, None]
    rows = torch.where(dense[:, None, None, None], x + y + z, x ^ y ^ z) + offsets[:, None, None, None]
    return rows.flatten(-3)
