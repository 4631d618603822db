"""Scene contraction (mip-NeRF 360) for unbounded captures: all of space into a bounded cube.

Positions are taken in units of the inner box (``data.aabb``): x = (p - c) / h, with c its
centre and h its half-size per axis, so the inner box is [-1, 1]^3. Then

    contract(x) = x                              where ||x|| <= 1
                = (2 - 1 / ||x||) x / ||x||      elsewhere,

which maps all of space into the ball ||y|| < 2 and keeps the inner box as it is. With the
max norm (the default) cubes map to cubes, so an occupancy grid over [-2, 2]^3 has cells of
one shape inside and out; mip-NeRF 360 uses the Euclidean norm. The inverse is

    uncontract(y) = y / (||y|| (2 - ||y||))     where ||y|| > 1.

Marching: a cell of the contracted grid at distance r > 1 is r^2 times larger in the world
(d||y||/d||x|| = 1 / ||x||^2), so a fixed world step would put ever more samples into ever
less contracted space. Steps grow with the distance instead, dt = clamp(cone_angle t,
step_min, step_max) (instant-ngp's cone marching): past t* = step_min / cone_angle the
distances are geometric, t_k = t* (1 + cone_angle)^k, so reaching t_far costs
log(t_far / t*) / log(1 + cone_angle) samples.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

NORMS = ("inf", "l2")


def _norm(x: Tensor, norm: str) -> Tensor:
    if norm == "inf":
        return x.abs().amax(dim=-1, keepdim=True)
    if norm == "l2":
        return x.norm(dim=-1, keepdim=True)
    raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")


def to_box_units(points: Tensor, aabb: Tensor) -> Tensor:
    """x = (p - c) / h for points (N, 3) and the box aabb = [min(3), max(3)]."""
    centre, half = 0.5 * (aabb[:3] + aabb[3:]), 0.5 * (aabb[3:] - aabb[:3])
    return (points - centre) / half


def from_box_units(x: Tensor, aabb: Tensor) -> Tensor:
    """p = c + h x, the inverse of ``to_box_units``."""
    centre, half = 0.5 * (aabb[:3] + aabb[3:]), 0.5 * (aabb[3:] - aabb[:3])
    return centre + x * half


def contract(x: Tensor, norm: str = "inf") -> Tensor:
    """(N, 3) -> (N, 3) with ||y|| < 2: the identity inside ||x|| <= 1, (2 - 1/||x||) x/||x|| outside."""
    n = _norm(x, norm)
    safe = n.clamp(min=1.0)
    return torch.where(n <= 1.0, x, (2.0 - 1.0 / safe) * x / safe)


def uncontract(y: Tensor, norm: str = "inf") -> Tensor:
    """The inverse of ``contract`` for ||y|| < 2: y / (||y|| (2 - ||y||)) outside the unit ball."""
    n = _norm(y, norm)
    safe = n.clamp(min=1.0, max=2.0 - 1e-7)
    return torch.where(n <= 1.0, y, y / (safe * (2.0 - safe)))


def step_size(t: Tensor, step_min: float, cone_angle: float, step_max: float = math.inf) -> Tensor:
    """dt = clamp(cone_angle t, step_min, step_max) at distances t (any shape)."""
    return (cone_angle * t).clamp(min=step_min, max=step_max)


def march_distances(t_near: float, t_far: float, step_min: float, cone_angle: float,
                    step_max: float = math.inf) -> Tensor:
    """Sample boundaries t_0 = t_near < t_1 < ... of one ray up to t_far (the last one is
    t_far), each step ``step_size`` of where it starts (float64)."""
    ts = [float(t_near)]
    while ts[-1] < t_far:
        dt = min(max(cone_angle * ts[-1], step_min), step_max)
        ts.append(min(ts[-1] + dt, float(t_far)))
    return torch.tensor(ts, dtype=torch.float64)


def samples_to_reach(t_far: float, step_min: float, cone_angle: float) -> float:
    """Steps from t* = step_min / cone_angle (where steps start to grow) to t_far > t*:
    log(t_far / t*) / log(1 + cone_angle)."""
    t_star = step_min / cone_angle
    return math.log(t_far / t_star) / math.log1p(cone_angle)
