"""Occupancy-grid estimators: where along each ray to put samples.

Two implementations behind one interface (``sample`` and ``update``): ``TorchOccupancyGrid``
(pure PyTorch, any device) and ``NerfaccOccupancyGrid`` (nerfacc's CUDA ``OccGridEstimator``).
``build_estimator`` picks nerfacc on CUDA when its extension builds, else the torch grid.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn

from nerfspec.cameras import ray_aabb_intersect
from nerfspec.config import SamplerConfig
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
        """The samples where ``mask`` (S,) holds, order kept."""
        return Samples(self.ray_indices[mask], self.t_starts[mask], self.t_ends[mask])

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
               chunk_points: int = 1 << 22) -> Samples:
    """Uniform steps of length ``step`` from each ray's box entry to its exit, keeping the
    samples whose midpoint lies in an occupied cell.

    Sample k of a ray covers [t_near + k step, t_near + (k + 1) step]. ``occupied`` is the
    flat (R^3,) boolean grid. Rays are processed in chunks of at most ``chunk_points``
    candidate points so memory stays bounded.
    """
    resolution = round(occupied.numel() ** (1 / 3))
    t_near, t_far = ray_aabb_intersect(origins, dirs, aabb)
    n_steps = ((t_far - t_near) / step).ceil().clamp(min=0).long()
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


def march_front_to_back(samples: Samples, n_rays: int, early_stop_eps: float, round_size: int,
                        evaluate: Callable[[Tensor], Tensor]) -> Tensor:
    """Visit each ray's samples front to back, ``round_size`` per ray at a time, dropping a ray
    once its transmittance exp(-sum tau) is below ``early_stop_eps`` (0: visit everything in
    one round).

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
    starts, counts = segment_starts(samples.ray_indices, n_rays)
    rank = torch.arange(n, device=device) - starts[samples.ray_indices]
    tau = torch.zeros(n_rays, device=device)
    limit = -math.log(early_stop_eps) if early_stop_eps > 0 else math.inf
    max_count = int(counts.max())
    if not math.isfinite(limit):
        round_size = max_count
    for lo in range(0, max_count, round_size):
        alive = tau < limit
        sel = ((rank >= lo) & (rank < lo + round_size) & alive[samples.ray_indices]).nonzero().squeeze(-1)
        if sel.numel() == 0:
            break
        visited[sel] = True
        tau.index_add_(0, samples.ray_indices[sel], evaluate(sel).float())
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


def prune_samples(samples: Samples, sigmas: Tensor, n_rays: int, alpha_threshold: float,
                  early_stop_eps: float) -> Samples:
    """Drop samples with alpha < ``alpha_threshold`` or transmittance < ``early_stop_eps``."""
    tau = sigmas * (samples.t_ends - samples.t_starts)
    keep = torch.ones_like(tau, dtype=torch.bool)
    if early_stop_eps > 0:
        trans = torch.exp(-exclusive_sum_packed(tau, samples.ray_indices, n_rays))
        keep &= trans >= early_stop_eps
    if alpha_threshold > 0:
        keep &= (1.0 - torch.exp(-tau)) >= alpha_threshold
    return Samples(samples.ray_indices[keep], samples.t_starts[keep], samples.t_ends[keep])


class TorchOccupancyGrid(nn.Module):
    """An R^3 grid over ``aabb`` holding an EMA of each cell's opacity over one marching step.

    update: for the chosen cells c, occ_c <- max(decay occ_c, sigma(x_c) step) at a random point
    x_c in the cell; a cell is occupied when occ_c > min(mean(occ), threshold). Cells never
    evaluated yet (occ = -1) count as occupied and are chosen first, so the first updates
    sweep the grid in slices of ``update_cells`` instead of paying for all R^3 cells at once.
    """

    def __init__(self, aabb: Tensor, cfg: SamplerConfig):
        super().__init__()
        self.cfg = cfg
        r = cfg.grid_resolution
        self.register_buffer("aabb", aabb.detach().float().clone())
        self.register_buffer("occs", torch.full((r ** 3,), -1.0))
        self.register_buffer("binary", torch.ones(r ** 3, dtype=torch.bool))
        self.register_buffer("carved", torch.zeros(r ** 3, dtype=torch.bool))

    def carve(self, empty: Tensor) -> None:
        """Mark cells (flat (R^3,) mask) as known empty for good, e.g. from silhouettes."""
        self.carved |= empty.to(self.carved.device)
        self.occs[self.carved] = 0.0
        self.binary &= ~self.carved

    @property
    def occupied_fraction(self) -> float:
        return float(self.binary.float().mean())

    @torch.no_grad()
    def sample(self, origins: Tensor, dirs: Tensor, density_fn: DensityFn | None = None,
               alpha_threshold: float | None = None, early_stop_eps: float | None = None) -> Samples:
        """Samples in occupied cells; with ``density_fn``, also drop the ones that cannot
        contribute (low alpha, or behind an opaque surface)."""
        cfg = self.cfg
        alpha_threshold = cfg.alpha_threshold if alpha_threshold is None else alpha_threshold
        early_stop_eps = cfg.early_stop_eps if early_stop_eps is None else early_stop_eps
        samples = march_grid(origins, dirs, self.aabb, self.binary, cfg.render_step_size)
        if density_fn is not None and len(samples) and (alpha_threshold > 0 or early_stop_eps > 0):
            n_rays = origins.shape[0]
            sigmas, evaluated = front_to_back_densities(
                samples, samples.points(origins, dirs), density_fn, n_rays, early_stop_eps)
            samples = prune_samples(samples.select(evaluated), sigmas[evaluated], n_rays,
                                    alpha_threshold, early_stop_eps)
        return samples

    def choose_cells(self, step: int, generator: torch.Generator | None = None) -> Tensor:
        """Cells to re-evaluate: all during warm-up; else unvisited cells first, then half
        uniformly random and half among the occupied ones."""
        cfg, device = self.cfg, self.occs.device
        n_cells, n = self.occs.numel(), self.cfg.update_cells
        if step < cfg.warmup_steps or n >= n_cells:
            return torch.arange(n_cells, device=device)
        unvisited = (self.occs < 0).nonzero().squeeze(-1)
        unvisited = unvisited[~self.carved[unvisited]]
        if unvisited.numel():
            order = torch.randperm(unvisited.numel(), generator=generator).to(device)
            return unvisited[order[:n]]
        cells = torch.randint(n_cells, (n // 2,), generator=generator).to(device)
        occupied = self.binary.nonzero().squeeze(-1)
        if occupied.numel():
            pick = torch.randint(occupied.numel(), (n - n // 2,), generator=generator).to(device)
            cells = torch.cat([cells, occupied[pick]])
        return cells

    @torch.no_grad()
    def update(self, step: int, density_fn: DensityFn, generator: torch.Generator | None = None) -> bool:
        """Refresh the grid every ``update_every`` steps; returns whether it did."""
        cfg = self.cfg
        if step % cfg.update_every:
            return False
        r, device = cfg.grid_resolution, self.occs.device
        cells = self.choose_cells(step, generator)
        ijk = torch.stack([cells // (r * r), (cells // r) % r, cells % r], dim=-1).float()
        jitter = torch.rand(ijk.shape, generator=generator).to(device)
        size = self.aabb[3:] - self.aabb[:3]
        x = self.aabb[:3] + (ijk + jitter) / r * size
        occ = torch.cat([density_fn(part).float() for part in x.split(65536)]) * cfg.render_step_size
        self.occs[cells] = torch.maximum(self.occs[cells] * cfg.occ_ema_decay, occ)
        visited = self.occs >= 0
        threshold = torch.clamp(self.occs[visited].mean(), max=cfg.occ_threshold)
        self.binary.copy_(((self.occs > threshold) | ~visited) & ~self.carved)
        return True


class NerfaccOccupancyGrid(nn.Module):
    """nerfacc's ``OccGridEstimator`` (CUDA kernels) behind the same two verbs."""

    def __init__(self, aabb: Tensor, cfg: SamplerConfig):
        super().__init__()
        import nerfacc

        self.cfg = cfg
        self.register_buffer("aabb", aabb.detach().float().clone())
        self.grid = nerfacc.OccGridEstimator(roi_aabb=aabb.tolist(), resolution=cfg.grid_resolution, levels=1)

        self.register_buffer("carved", torch.zeros(cfg.grid_resolution ** 3, dtype=torch.bool))

    def carve(self, empty: Tensor) -> None:
        """Mark cells (flat (R^3,) mask, x-major) as known empty for good."""
        self.carved |= empty.to(self.carved.device)
        self._apply_carving()

    def _apply_carving(self) -> None:
        shape = self.grid.binaries.shape
        self.grid.binaries &= ~self.carved.reshape(shape)
        self.grid.occs[self.carved] = 0.0

    @property
    def occupied_fraction(self) -> float:
        return float(self.grid.binaries.float().mean())

    @torch.no_grad()
    def sample(self, origins: Tensor, dirs: Tensor, density_fn: DensityFn | None = None,
               alpha_threshold: float | None = None, early_stop_eps: float | None = None) -> Samples:
        cfg = self.cfg
        sigma_fn = None
        if density_fn is not None:
            def sigma_fn(t_starts, t_ends, ray_indices):
                t_mid = (t_starts + t_ends)[:, None] * 0.5
                return density_fn(origins[ray_indices] + t_mid * dirs[ray_indices]).float()
        ray_indices, t_starts, t_ends = self.grid.sampling(
            origins, dirs, sigma_fn=sigma_fn, render_step_size=cfg.render_step_size,
            alpha_thre=cfg.alpha_threshold if alpha_threshold is None else alpha_threshold,
            early_stop_eps=cfg.early_stop_eps if early_stop_eps is None else early_stop_eps,
            stratified=False)
        return Samples(ray_indices.long(), t_starts, t_ends)

    def update(self, step: int, density_fn: DensityFn, generator: torch.Generator | None = None) -> bool:
        cfg = self.cfg
        if step % cfg.update_every:
            return False
        self.grid.update_every_n_steps(
            step=step, occ_eval_fn=lambda x: density_fn(x).float()[:, None] * cfg.render_step_size,
            occ_thre=cfg.occ_threshold, ema_decay=cfg.occ_ema_decay, warmup_steps=cfg.warmup_steps,
            n=1)
        self._apply_carving()
        return True


def nerfacc_cuda_available() -> bool:
    """Whether nerfacc's CUDA extension builds and loads here (it JIT-compiles on first use)."""
    if not torch.cuda.is_available():
        return False
    try:
        from nerfacc.cuda._backend import _C  # triggers the JIT build

        return _C is not None
    except Exception as exc:  # the build can fail in many ways
        print(f"note: nerfacc CUDA extension unavailable ({exc}); using the PyTorch sampler",
              file=sys.stderr)
        return False


def build_estimator(aabb: Tensor, cfg: SamplerConfig, device: torch.device) -> nn.Module:
    """The occupancy grid for ``device``: nerfacc on CUDA when it works, else pure torch."""
    backend = cfg.backend
    if backend == "auto":
        backend = "nerfacc" if device.type == "cuda" and nerfacc_cuda_available() else "torch"
    grid = NerfaccOccupancyGrid(aabb, cfg) if backend == "nerfacc" else TorchOccupancyGrid(aabb, cfg)
    return grid.to(device)
