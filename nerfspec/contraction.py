"""Scene contraction for unbounded scenes (mip-NeRF 360, Barron et al. 2022, eq. 10, with the
max norm as nerfstudio's scene contraction uses, so the box maps onto itself).

Positions are measured in units of the box ``aabb`` = [min(3), max(3)]: u = (x - c) / h with c
its centre and h its half sides, so the box is ||u||_inf <= 1. Then

    contract(u) = u                                  if ||u||_inf <= 1
                  (2 - 1 / ||u||_inf) u / ||u||_inf  otherwise,

which is the identity on the box, continuous across its surface, and takes all of space into
||.||_inf < 2: the whole scene fits a bounded domain twice the box's size, with the far field
squeezed towards its boundary (a point at distance d in box units lands 1/d from it).
"""

from __future__ import annotations

import torch
from torch import Tensor


def to_box_units(x: Tensor, aabb: Tensor) -> Tensor:
    """u = (x - c) / h (N, 3) for world points x (N, 3): the box is [-1, 1]^3."""
    lo, hi = aabb[:3], aabb[3:]
    return (x - 0.5 * (lo + hi)) / (0.5 * (hi - lo))


def contract(u: Tensor) -> Tensor:
    """The contraction above for points u (N, 3) in box units; (N, 3) in [-2, 2]^3."""
    m = u.abs().amax(dim=-1, keepdim=True)
    outside = m > 1.0
    m_safe = torch.where(outside, m, torch.ones_like(m))
    return torch.where(outside, (2.0 - 1.0 / m_safe) * (u / m_safe), u)


def contracted_unit(x: Tensor, aabb: Tensor) -> Tensor:
    """World points x (N, 3) -> [0, 1]^3 for the encodings: (contract(u) + 2) / 4, so the box
    fills the middle half of each axis and the rest of space the margins."""
    return (contract(to_box_units(x, aabb)) + 2.0) * 0.25
