"""Occupancy grid cascades and cone-angle marching for unbounded scenes (instant-ngp's
scheme, as nerfacc's ``traverse_grids`` runs it): the maths; the grid's state is in grid.py.

Level l (0 <= l < L) is an R^3 grid over the box grown 2^l times about its centre:
[lo - (2^l - 1) h, hi + (2^l - 1) h] with h the half sides (level 0 is the box itself, to the
bit). A point belongs to the finest level whose box holds it. Cells are flat, level-major then
x-major: index l R^3 + (x R + y) R + z, as nerfacc orders its (L, R, R, R) binaries.

A ray marches from its entry into the largest level (t_0, clamped at 0) with
t_{k+1} = t_k + dt_k, dt_k = max(step, cone t_k): uniform steps near the cameras, growing in
proportion to distance beyond step / cone, so the number of steps grows with log(distance).
Step k is kept when its midpoint t_k + dt_k / 2 is before the far exit and in an occupied cell
of its level. With one level and cone 0 these are ``sampling.march_grid``'s samples.
"""

from __future__ import annotations

import torch
from torch import Tensor

from nerfspec.cameras import ray_aabb_intersect
from nerfspec.render.sampling import Samples


def cascade_aabbs(aabb: Tensor, levels: int) -> Tensor:
    """(L, 6) boxes of the levels: [lo - (2^l - 1) h, hi + (2^l - 1) h], h = (hi - lo) / 2."""
    lo, hi = aabb[:3].float(), aabb[3:].float()
    half = 0.5 * (hi - lo)
    grow = torch.tensor([2.0 ** l - 1.0 for l in range(levels)], device=aabb.device)[:, None] * half
    return torch.cat([lo - grow, hi + grow], dim=-1)


def cascade_cell_index(points: Tensor, aabbs: Tensor, resolution: int) -> tuple[Tensor, Tensor]:
    """Flat cell index (N,) of points (N, 3) in the finest level holding each, and whether any
    level does (N,). Per level u = (p - lo_l) / (hi_l - lo_l), inside when 0 <= u < 1 on every
    axis, cell ijk = clamp(floor(u R), 0, R - 1)."""
    lo, size = aabbs[:, :3], aabbs[:, 3:] - aabbs[:, :3]
    u = (points[:, None, :] - lo[None]) / size[None]  # (N, L, 3)
    inside = ((u >= 0) & (u < 1)).all(dim=-1)  # (N, L)
    level = inside.int().argmax(dim=-1)  # the first (finest) level holding the point
    ijk = (u[torch.arange(points.shape[0], device=points.device), level] * resolution).long()
    ijk = ijk.clamp(0, resolution - 1)
    local = (ijk[:, 0] * resolution + ijk[:, 1]) * resolution + ijk[:, 2]
    return level * resolution ** 3 + local, inside.any(dim=-1)


def cascade_cell_points(aabbs: Tensor, cells: Tensor, resolution: int, jitter: Tensor | None = None) -> Tensor:
    """World points (K, 3) in flat cells (K,) of the levels ``aabbs`` (L, 6):
    lo_l + (ijk + u) / R (hi_l - lo_l), u = ``jitter`` (K, 3) in [0, 1) or 1/2 (the centres)."""
    r = resolution
    level, local = cells // r ** 3, cells % r ** 3
    ijk = torch.stack([local // (r * r), (local // r) % r, local % r], dim=-1).float()
    u = torch.full_like(ijk, 0.5) if jitter is None else jitter
    box = aabbs[level]
    return box[:, :3] + (ijk + u) / r * (box[:, 3:] - box[:, :3])


def march_cascades(origins: Tensor, dirs: Tensor, aabbs: Tensor, occupied: Tensor, step: float,
                   cone_angle: float, native: bool = True) -> Samples:
    """The samples described in the module docstring: ray_indices sorted, t ascending per ray.

    ``occupied`` is the flat (L R^3,) boolean grid. On the CPU the C++ op
    (nerfspec/native/march_cascades_cpu.cpp) marches each ray in a loop with the same float
    operations; elsewhere (or with ``native`` False) all rays advance one step per round of
    tensor operations. Both keep exactly the same samples.
    """
    levels = aabbs.shape[0]
    resolution = round((occupied.numel() // levels) ** (1 / 3))
    t_near, t_far = ray_aabb_intersect(origins, dirs, aabbs[-1])
    if native and origins.device.type == "cpu" and native_cascades_available():
        ray_indices, t_starts, t_ends = torch.ops.nerfspec_cascades.march(
            origins.float().contiguous(), dirs.float().contiguous(), t_near.float().contiguous(),
            t_far.float().contiguous(), aabbs.float().contiguous(), occupied.contiguous(), step, cone_angle,
            resolution)
        return Samples(ray_indices, t_starts, t_ends)
    t = t_near.float().clone()
    active = (t_near < t_far).nonzero().squeeze(-1)
    idx_parts, t0_parts, t1_parts = [], [], []
    while active.numel():
        tt = t[active]
        dt = (tt * cone_angle).clamp(min=step)
        mid = tt + dt * 0.5
        live = mid < t_far[active]
        active, tt, dt, mid = active[live], tt[live], dt[live], mid[live]
        pts = origins[active] + mid[:, None] * dirs[active]
        cells, inside = cascade_cell_index(pts, aabbs, resolution)
        keep = inside & occupied[cells]
        t_next = tt + dt
        idx_parts.append(active[keep])
        t0_parts.append(tt[keep])
        t1_parts.append(t_next[keep])
        t[active] = t_next
    if not idx_parts:
        empty = torch.zeros(0, device=origins.device)
        return Samples(empty.long(), empty, empty)
    ray_indices = torch.cat(idx_parts)
    order = torch.sort(ray_indices, stable=True).indices  # rounds run in t order: stable keeps it
    return Samples(ray_indices[order], torch.cat(t0_parts)[order], torch.cat(t1_parts)[order])


def native_cascades_available() -> bool:
    """Whether the C++ cascade marching op builds and loads here (said once on stderr when not)."""
    from nerfspec.native import load_op

    return load_op("nerfspec_cascades", "march_cascades_cpu.cpp", "cascade marching")
