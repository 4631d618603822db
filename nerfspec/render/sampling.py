"""Where along each ray samples go: packed samples, marching through an occupancy grid, and
pruning the samples that cannot contribute (the maths; the grid's state lives in grid.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from nerfspec.cameras import ray_aabb_intersect
from nerfspec.render.volume import exclusive_sum_packed, segment_starts

DensityFn = Callable[[Tensor], Tensor]  # world points (N, 3) -> sigma (N,)


@dataclass
class Samples:
    """Packed samples: ray ``ray_indices[s]`` over [t_starts[s], t_ends[s]], each (S,)."""

    ray_indices: Tensor
    t_starts: Tensor
    t_ends: Tensor

    def __len__(self) -> int:
        return int(self.ray_indices.shape[0])

    def select(self, mask: Tensor) -> "Samples":
        """The samples where ``mask`` (S,) holds, order kept: one index computation (the one
        host wait, for the count) and three gathers, not three boolean masks."""
        return self.take(mask.nonzero().squeeze(1))

    def take(self, index: Tensor) -> "Samples":
        """The samples at ``index`` (K,) long."""
        return Samples(self.ray_indices.index_select(0, index), self.t_starts.index_select(0, index),
                       self.t_ends.index_select(0, index))

    def points(self, origins: Tensor, dirs: Tensor) -> Tensor:
        """Midpoints (S, 3) of the samples on their rays."""
        t_mid = (self.t_starts + self.t_ends)[:, None] * 0.5
        return origins[self.ray_indices] + t_mid * dirs[self.ray_indices]


def grid_coords(resolution: int, device=None) -> Tensor:
    """Integer (R^3, 3) coordinates of all cells, x-major (index = (x R + y) R + z)."""
    r = torch.arange(resolution, device=device)
    return torch.stack(torch.meshgrid(r, r, r, indexing="ij"), dim=-1).reshape(-1, 3)


def cell_index(points: Tensor, aabb: Tensor, resolution: int) -> tuple[Tensor, Tensor]:
    """Flat cell index (N,) of points (N, 3) and whether each lies inside the box (N,)."""
    u = (points - aabb[:3]) / (aabb[3:] - aabb[:3])
    inside = ((u >= 0) & (u < 1)).all(dim=-1)
    ijk = (u * resolution).long().clamp(0, resolution - 1)
    return (ijk[:, 0] * resolution + ijk[:, 1]) * resolution + ijk[:, 2], inside


def march_grid(origins: Tensor, dirs: Tensor, aabb: Tensor, occupied: Tensor, step: float,
               chunk_points: int = 1 << 22, native: bool = True) -> Samples:
    """Uniform steps of length ``step`` from each ray's box entry to its exit, keeping the
    samples whose midpoint lies in an occupied cell.

    Sample k of a ray covers [t_near + k step, t_near + (k + 1) step]. ``occupied`` is the
    flat (R^3,) boolean grid. On the CPU the C++ op (nerfspec/native/march_cpu.cpp) marches
    each ray in a loop with the same float operations, so it keeps exactly the same samples;
    elsewhere (or with ``native`` False, or where the op cannot be built) rays are processed
    as (rays x steps) tensors in chunks of at most ``chunk_points`` candidate points.
    """
    resolution = round(occupied.numel() ** (1 / 3))
    t_near, t_far = ray_aabb_intersect(origins, dirs, aabb)
    n_steps = ((t_far - t_near) / step).ceil().clamp(min=0).long()
    if native and origins.device.type == "cpu" and native_march_available():
        ray_indices, t_starts = torch.ops.nerfspec_march.march(
            origins.float().contiguous(), dirs.float().contiguous(), t_near.contiguous(), n_steps,
            aabb[:3].float().contiguous(), (aabb[3:] - aabb[:3]).float().contiguous(),
            occupied.contiguous(), step, resolution)
        return Samples(ray_indices, t_starts, t_starts + step)
    max_steps = int(n_steps.max()) if n_steps.numel() else 0
    if max_steps == 0:
        empty = torch.zeros(0, device=origins.device)
        return Samples(empty.long(), empty, empty)
    k = torch.arange(max_steps, device=origins.device, dtype=origins.dtype)
    rays_per_chunk = max(1, chunk_points // max_steps)
    idx_parts, t_parts = [], []
    for lo in range(0, origins.shape[0], rays_per_chunk):
        hi = min(lo + rays_per_chunk, origins.shape[0])
        t0 = t_near[lo:hi, None] + k[None] * step  # (B, S) sample starts
        keep = k[None] < n_steps[lo:hi, None]
        t_mid = t0 + 0.5 * step
        pts = origins[lo:hi, None] + t_mid[..., None] * dirs[lo:hi, None]
        cells, inside = cell_index(pts.reshape(-1, 3), aabb, resolution)
        keep &= (occupied[cells] & inside).reshape(keep.shape)
        ray_local, step_idx = keep.nonzero(as_tuple=True)  # row-major: sorted by ray, then t
        idx_parts.append(ray_local + lo)
        t_parts.append(t0[ray_local, step_idx])
    ray_indices = torch.cat(idx_parts)
    t_starts = torch.cat(t_parts)
    return Samples(ray_indices, t_starts, t_starts + step)


def native_march_available() -> bool:
    """Whether the C++ marching op builds and loads here (said once on stderr when not)."""
    from nerfspec.native import load_op

    return load_op("nerfspec_march", "march_cpu.cpp", "ray marching")


def march_front_to_back(samples: Samples, n_rays: int, early_stop_eps: float, round_size: int,
                        evaluate: Callable[[Tensor], Tensor]) -> Tensor:
    """Visit each ray's samples front to back, ``round_size`` per ray at a time, dropping a ray
    once its transmittance exp(-sum tau) is below ``early_stop_eps`` (``early_stop_eps`` 0 or
    ``round_size`` 0: visit everything in one round, with no host synchronisation).

    ``evaluate(sel)`` gets the indices (K,) of one round's samples (sorted, so each ray's are
    contiguous and in order) and returns their optical depths tau (K,). Returns the visited
    mask (S,); each ray's visited samples form a prefix of its samples. Rays through thick
    occupied regions thus cost about the samples in front of their first opaque surface.
    """
    n = len(samples)
    device = samples.t_starts.device
    visited = torch.zeros(n, dtype=torch.bool, device=device)
    if n == 0:
        return visited
    if early_stop_eps <= 0 or round_size <= 0:
        evaluate(torch.arange(n, device=device))
        return visited.fill_(True)
    starts, counts = segment_starts(samples.ray_indices, n_rays)
    tau = torch.zeros(n_rays, device=device)
    limit = -math.log(early_stop_eps)
    active = (counts > 0).nonzero().squeeze(-1)  # rays still marching, ascending
    offsets = torch.arange(round_size, device=device)
    lo = 0
    while active.numel():
        # this round: samples lo .. lo + round_size - 1 of every active ray (work ~ active rays,
        # not all samples); row-major, so sorted by ray, then along the ray
        rank = lo + offsets[None]
        sel = (starts[active, None] + rank)[rank < counts[active, None]]
        visited[sel] = True
        tau.index_add_(0, samples.ray_indices[sel], evaluate(sel).float())
        lo += round_size
        active = active[(tau[active] < limit) & (counts[active] > lo)]
    return visited


def pass_bounds(passes: int, first: int = 32, growth: int = 4) -> tuple[int, ...]:
    """Where ``passes`` front-to-back passes split each ray's samples: positions
    (first, first growth, first growth^2, ...), passes - 1 of them (the last pass takes the rest)."""
    return tuple(first * growth ** i for i in range(max(passes, 1) - 1))


def march_in_passes(samples: Samples, n_rays: int, early_stop_eps: float, bounds: tuple[int, ...],
                    evaluate: Callable[[Tensor], Tensor]) -> int:
    """Visit each ray's samples front to back in len(bounds) + 1 passes, dropping a ray once its
    transmittance exp(-sum tau) is below ``early_stop_eps`` (0: one pass over everything).

    Pass i visits the samples at positions p in [b_{i-1}, b_i) along their ray (b_{-1} = 0, the
    last pass has no upper bound) of the rays still above ``early_stop_eps``: one boolean mask over
    the samples and one compaction, whose size is the pass's only host wait. The transmittance
    stays on the device, so ``bounds`` fixes the number of waits whatever the scene. ``evaluate``
    is called as in ``march_front_to_back`` and each ray's visited samples form a prefix of its
    samples. Returns how many samples were visited.
    """
    n = len(samples)
    if n == 0:
        return 0
    device, rays = samples.t_starts.device, samples.ray_indices
    if early_stop_eps <= 0 or not bounds:
        evaluate(torch.arange(n, device=device))
        return n
    starts, _ = segment_starts(rays, n_rays)
    position = torch.arange(n, device=device) - starts[rays]
    tau = torch.zeros(n_rays, device=device)
    limit = -math.log(early_stop_eps)
    visited, lo = 0, 0
    for hi in (*bounds, None):
        in_pass = position >= lo
        if hi is not None:
            in_pass &= position < hi
        if lo > 0:
            in_pass &= (tau < limit)[rays]
        sel = in_pass.nonzero().squeeze(1)
        if sel.numel() == 0:  # every ray opaque or out of samples: no later pass has any
            break
        tau.index_add_(0, rays[sel], evaluate(sel).float())
        visited += sel.numel()
        lo = hi
    return visited


def front_to_back_densities(samples: Samples, points: Tensor, density_fn: DensityFn, n_rays: int,
                            early_stop_eps: float, round_size: int = 16) -> tuple[Tensor, Tensor]:
    """Densities (S,) of the samples ``march_front_to_back`` visits (0 elsewhere), and the
    visited mask (S,)."""
    sigmas = torch.zeros(len(samples), device=points.device)
    dt = samples.t_ends - samples.t_starts

    def evaluate(sel: Tensor) -> Tensor:
        sigmas[sel] = density_fn(points[sel]).float()
        return sigmas[sel] * dt[sel]

    visited = march_front_to_back(samples, n_rays, early_stop_eps, round_size, evaluate)
    return sigmas, visited


def contributing(samples: Samples, sigmas: Tensor, n_rays: int, alpha_threshold: float,
                 early_stop_eps: float) -> Tensor:
    """(S,) mask of the samples that can contribute: alpha = 1 - exp(-sigma dt) >=
    ``alpha_threshold`` and transmittance T = exp(-sum of earlier tau) >= ``early_stop_eps``."""
    tau = sigmas * (samples.t_ends - samples.t_starts)
    keep = torch.ones_like(tau, dtype=torch.bool)
    if early_stop_eps > 0:
        trans = torch.exp(-exclusive_sum_packed(tau, samples.ray_indices, n_rays))
        keep &= trans >= early_stop_eps
    if alpha_threshold > 0:
        keep &= (1.0 - torch.exp(-tau)) >= alpha_threshold
    return keep


def prune_samples(samples: Samples, sigmas: Tensor, n_rays: int, alpha_threshold: float,
                  early_stop_eps: float) -> Samples:
    """Drop samples with alpha < ``alpha_threshold`` or transmittance < ``early_stop_eps``."""
    return samples.select(contributing(samples, sigmas, n_rays, alpha_threshold, early_stop_eps))
