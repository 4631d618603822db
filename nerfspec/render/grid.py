"""The occupancy grid: one estimator whose state, update rule and sample placement are defined
here, in PyTorch, for every device.

State (buffers, the same tensors on every device and in every checkpoint): ``aabb`` (6,),
``occs`` (R^3,) an EMA of each cell's opacity over one marching step (-1: never evaluated),
``binary`` (R^3,) occupied cells, ``carved`` (R^3,) cells known empty for good. Cells are
flat x-major: index (x R + y) R + z, as nerfacc's ``OccGridEstimator`` orders them.

Sampling marches uniform steps through occupied cells (``kernels.traverse``: PyTorch, or
nerfacc's CUDA kernel over the same ``binary``) and, given a density, drops the samples that
cannot contribute (``sampling.prune_samples``). ``state_to_nerfacc`` / ``state_from_nerfacc``
map the state to and from nerfacc's estimator, for runs saved in its layout.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

import dataclasses

from nerfspec.config import SamplerConfig
from nerfspec.render.cascades import cascade_aabbs, cascade_cell_points, march_cascades
from nerfspec.render.kernels import kernel_backend, nerfacc_traverse
from nerfspec.render.sampling import (
    DensityFn,
    Samples,
    front_to_back_densities,
    grid_coords,
    march_grid,
    prune_samples,
)

UNVISITED = -1.0  # occs of a cell never evaluated: counts as occupied until it is
UNBOUNDED_CASCADES = 4  # levels up to 8 times the box: walls and ground at finite distance
UNBOUNDED_CONE_ANGLE = 1.0 / 256  # instant-ngp's for large scenes
GPU_RENDER_PASSES = 3  # with marching's own, 4 host waits per rendered chunk
GPU_UPDATE_CHUNK = 1 << 20  # points per density call of a grid update on a GPU
CPU_UPDATE_CHUNK = 65536  # on the CPU the field's working set then stays in cache


def sampler_for_scene(cfg: SamplerConfig, unbounded: bool) -> SamplerConfig:
    """``cfg`` with its automatic cascades (0) and cone angle (-1) resolved: one level and
    uniform steps for an object in its box; ``UNBOUNDED_CASCADES`` levels and
    ``UNBOUNDED_CONE_ANGLE`` for an unbounded scene."""
    cascades = cfg.cascades or (UNBOUNDED_CASCADES if unbounded else 1)
    cone = cfg.cone_angle if cfg.cone_angle >= 0 else (UNBOUNDED_CONE_ANGLE if unbounded else 0.0)
    return dataclasses.replace(cfg, cascades=cascades, cone_angle=cone)


def occupancy_threshold(occs: Tensor, occ_threshold: float) -> Tensor:
    """() tensor min(mean of the evaluated cells' occs, occ_threshold), without a host sync."""
    visited = occs >= 0
    mean = (occs.clamp(min=0) * visited).sum() / visited.sum().clamp(min=1)
    return mean.clamp(max=occ_threshold)


def update_priority(occs: Tensor, binary: Tensor, carved: Tensor, generator: torch.Generator | None,
                    occupied_bonus: bool) -> Tensor:
    """(R^3,) keys whose largest entries are the cells to re-evaluate: U(0, 1) noise, +2 for
    cells never evaluated (so the first updates sweep the grid), +1 for occupied cells when
    ``occupied_bonus``, and -inf (never chosen) for carved cells."""
    key = torch.rand(occs.shape, generator=generator, device=occs.device)
    key = key + 2.0 * (occs < 0)
    if occupied_bonus:
        key = key + binary.float()
    return key.masked_fill(carved, -math.inf)


class OccupancyGrid(nn.Module):
    """An R^3 grid over ``aabb`` holding an EMA of each cell's opacity over one marching step;
    with ``sampler.cascades`` L > 1, L such grids over boxes 2^l times the size (cascades.py),
    marched with steps growing by ``sampler.cone_angle``. Every rule below is per cell, the same
    for every level.

    update: for the chosen cells c, occ_c <- max(decay occ_c, sigma(x_c) dt) at a random point
    x_c in the cell; a cell is occupied when occ_c > min(mean(evaluated occ), threshold). Cells
    never evaluated (occ = -1) count as occupied and are chosen first, so the first updates
    sweep the grid in slices of ``update_cells`` instead of evaluating all R^3 cells at once.
    After the sweep half of each slice is uniform over the grid and half favours occupied cells
    (nerfacc's rule). During ``warmup_steps`` every cell is evaluated at each update.
    """

    def __init__(self, aabb: Tensor, cfg: SamplerConfig):
        super().__init__()
        self.cfg = cfg
        n = self.levels * cfg.grid_resolution ** 3
        self.register_buffer("aabb", aabb.detach().float().clone())
        self.register_buffer("occs", torch.full((n,), UNVISITED))
        self.register_buffer("binary", torch.ones(n, dtype=torch.bool))
        self.register_buffer("carved", torch.zeros(n, dtype=torch.bool))

    @property
    def resolution(self) -> int:
        return self.cfg.grid_resolution

    @property
    def levels(self) -> int:
        """Cascade levels (``sampler.cascades``; 0, automatic, is one here)."""
        return max(self.cfg.cascades, 1)

    @property
    def cone_angle(self) -> float:
        return max(self.cfg.cone_angle, 0.0)

    def level_aabbs(self) -> Tensor:
        """(L, 6) boxes of the cascade levels; row 0 is ``aabb``."""
        return cascade_aabbs(self.aabb, self.levels)

    @property
    def backend(self) -> str:
        """Which kernels march and composite on the grid's current device: nerfacc or torch."""
        return kernel_backend(self.aabb.device, self.cfg.backend)

    def carve(self, empty: Tensor) -> None:
        """Mark cells (flat (R^3,) mask of level 0, or (L R^3,)) as known empty for good, e.g.
        from silhouettes."""
        empty = empty.to(self.carved.device)
        if empty.numel() < self.carved.numel():  # level 0 only: the outer levels stay as they are
            empty = torch.cat([empty, torch.zeros(self.carved.numel() - empty.numel(), dtype=torch.bool,
                                                  device=empty.device)])
        self.carved |= empty
        self.occs.masked_fill_(self.carved, 0.0)
        self.binary &= ~self.carved

    @property
    def occupied_fraction(self) -> float:
        return float(self.binary.float().mean())

    def traverse(self, origins: Tensor, dirs: Tensor, step: float | None = None) -> Samples:
        """Uniform steps of ``render_step_size`` (or ``step``: a viewer's coarser previews) from
        each ray's box entry whose midpoints lie in occupied cells (nerfacc's kernel on CUDA,
        PyTorch elsewhere; the same samples); with cascades or a cone angle,
        ``cascades.march_cascades``'s steps through every level."""
        step = self.cfg.render_step_size if step is None else step
        cascaded = self.levels > 1 or self.cone_angle > 0
        if self.backend == "nerfacc":
            aabbs = self.level_aabbs() if cascaded else self.aabb.view(1, 6)
            return Samples(*nerfacc_traverse(origins, dirs, aabbs, self.binary, step, self.cone_angle))
        if cascaded:
            return march_cascades(origins, dirs, self.level_aabbs(), self.binary, step, self.cone_angle)
        return march_grid(origins, dirs, self.aabb, self.binary, step)

    @torch.no_grad()
    def sample(self, origins: Tensor, dirs: Tensor, density_fn: DensityFn | None = None,
               alpha_threshold: float | None = None, early_stop_eps: float | None = None) -> Samples:
        """Samples in occupied cells (``traverse``); with ``density_fn``, minus those that
        cannot contribute (``prune``)."""
        samples = self.traverse(origins, dirs)
        if density_fn is None:
            return samples
        return self.prune(samples, origins, dirs, density_fn, alpha_threshold, early_stop_eps)[0]

    @torch.no_grad()
    def prune(self, samples: Samples, origins: Tensor, dirs: Tensor, density_fn: DensityFn,
              alpha_threshold: float | None = None, early_stop_eps: float | None = None
              ) -> tuple[Samples, int]:
        """The samples that can contribute (alpha >= ``alpha_threshold``, transmittance >=
        ``early_stop_eps``; the config's values by default), and how many densities that took.

        Densities are evaluated front to back in rounds of ``sampler.early_stop_round``
        samples per ray, so a ray stops costing field queries once it is opaque (0: all in one
        pass, which a GPU prefers). The kept samples are the same either way.
        """
        cfg = self.cfg
        alpha_threshold = cfg.alpha_threshold if alpha_threshold is None else alpha_threshold
        early_stop_eps = cfg.early_stop_eps if early_stop_eps is None else early_stop_eps
        if not len(samples) or (alpha_threshold <= 0 and early_stop_eps <= 0):
            return samples, 0
        n_rays, round_size = origins.shape[0], self.round_size(early_stop_eps)
        points = samples.points(origins, dirs)
        if round_size == 0:  # one pass: every sample visited, nothing to select
            visited, sigmas = samples, density_fn(points).float()
        else:
            sigmas, evaluated = front_to_back_densities(samples, points, density_fn, n_rays, early_stop_eps,
                                                        round_size)
            visited, sigmas = samples.select(evaluated), sigmas[evaluated]
        kept = prune_samples(visited, sigmas, n_rays, alpha_threshold, early_stop_eps)
        return kept, len(visited)

    def round_size(self, early_stop_eps: float) -> int:
        """Samples per ray per front-to-back round: ``sampler.early_stop_round``, where -1 is 16
        on the CPU (rounds save field queries) and 0 (one pass, no host synchronisation) on a
        GPU; 0 without early stopping."""
        if early_stop_eps <= 0:
            return 0
        if self.cfg.early_stop_round >= 0:
            return self.cfg.early_stop_round
        return 16 if self.aabb.device.type == "cpu" else 0

    def update_chunk(self) -> int:
        """Points per density call of an update: ``sampler.update_chunk``, where 0 is 65536 on
        the CPU and 2^20 on a GPU."""
        if self.cfg.update_chunk > 0:
            return self.cfg.update_chunk
        return CPU_UPDATE_CHUNK if self.aabb.device.type == "cpu" else GPU_UPDATE_CHUNK

    def render_passes(self) -> int:
        """Front-to-back passes of rendering without gradients: ``sampler.render_passes``, where
        -1 is 0 on the CPU (rounds of a few samples until every ray is done: fewest field
        queries, and a host wait costs nothing there) and ``GPU_RENDER_PASSES`` on a GPU (a
        bounded number of waits per chunk, each pass one large launch)."""
        if self.cfg.render_passes >= 0:
            return self.cfg.render_passes
        return 0 if self.aabb.device.type == "cpu" else GPU_RENDER_PASSES

    def choose_cells(self, step: int, generator: torch.Generator | None = None) -> Tensor:
        """Flat cells (K,) to re-evaluate at ``step``: all during warm-up (or when a slice covers
        the grid); else ``update_cells`` of them, never-evaluated cells first, then half
        uniformly and half among occupied cells. No host synchronisation."""
        cfg, device = self.cfg, self.occs.device
        n_cells, n = self.occs.numel(), cfg.update_cells
        if step < cfg.warmup_steps or n >= n_cells:
            return torch.arange(n_cells, device=device)
        uniform = torch.topk(update_priority(self.occs, self.binary, self.carved, generator, False),
                             n // 2, sorted=False).indices
        key = update_priority(self.occs, self.binary, self.carved, generator, True)
        key[uniform] = -math.inf  # no cell twice in one slice
        occupied = torch.topk(key, n - n // 2, sorted=False).indices
        return torch.cat([uniform, occupied])

    @torch.no_grad()
    def update(self, step: int, density_fn: DensityFn, generator: torch.Generator | None = None) -> bool:
        """Refresh the grid every ``update_every`` steps; returns whether it did."""
        cfg = self.cfg
        if step % cfg.update_every:
            return False
        cells = self.choose_cells(step, generator)
        jitter = torch.rand((cells.shape[0], 3), generator=generator, device=self.occs.device)
        x = cascade_cell_points(self.level_aabbs(), cells, self.resolution, jitter)
        occ = torch.cat([density_fn(part).float() for part in x.split(self.update_chunk())]) * cfg.render_step_size
        occ = occ.masked_fill(self.carved[cells], 0.0)
        self.occs[cells] = torch.maximum(self.occs[cells] * cfg.occ_ema_decay, occ)
        self.refresh_binary()
        return True

    def refresh_binary(self) -> None:
        """binary = (occs > threshold or never evaluated) and not carved."""
        threshold = occupancy_threshold(self.occs, self.cfg.occ_threshold)
        self.binary.copy_(((self.occs > threshold) | (self.occs < 0)) & ~self.carved)


def build_estimator(aabb: Tensor, cfg: SamplerConfig, device: torch.device | str) -> OccupancyGrid:
    """The occupancy grid over ``aabb`` on ``device`` (its kernels follow the device)."""
    return OccupancyGrid(aabb, cfg).to(device)


# -- nerfacc's layout ----------------------------------------------------------------------------

NERFACC_KEYS = ("resolution", "aabbs", "occs", "binaries")


def state_to_nerfacc(state: dict[str, Tensor], levels: int = 1) -> dict[str, Tensor]:
    """This grid's state dict (``levels`` cascades) -> a ``nerfacc.OccGridEstimator`` state dict
    with as many levels (aabbs (L, 6): the cascades' boxes, its layout of the same cells).

    nerfacc marks cells it must never update with occs = -1; carved cells go there. A cell this
    grid has not evaluated yet has no nerfacc equivalent: it is written with occs = -1 and
    binaries = True, which ``state_from_nerfacc`` reads back as unvisited.
    """
    occs, binary, carved = state["occs"], state["binary"], state["carved"]
    r = round((occs.numel() // levels) ** (1 / 3))
    return {
        "resolution": torch.tensor([r, r, r], dtype=torch.int32),
        "aabbs": cascade_aabbs(state["aabb"].float(), levels),
        "occs": torch.where(carved | (occs < 0), torch.full_like(occs, -1.0), occs),
        "binaries": binary.reshape(levels, r, r, r).clone(),
    }


def state_from_nerfacc(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """A ``nerfacc.OccGridEstimator`` state dict (or one saved under a ``grid.`` prefix) -> this
    grid's state dict; inverse of ``state_to_nerfacc``. Several levels must be cascades
    (each twice the size of the one before about one centre, as instant-ngp's)."""
    state = {k.removeprefix("grid."): v for k, v in state.items()}
    missing = [k for k in NERFACC_KEYS if k not in state]
    if missing:
        raise KeyError(f"not an occupancy grid state (missing {', '.join(missing)})")
    aabbs = state["aabbs"].float()
    if not torch.allclose(cascade_aabbs(aabbs[0], aabbs.shape[0]), aabbs, rtol=1e-5, atol=1e-5):
        raise ValueError(f"its {aabbs.shape[0]} levels are not cascades (boxes 2^l times the first about its centre)")
    occs = state["occs"].float()
    binary = state["binaries"].reshape(-1).bool()
    excluded = occs < 0
    carved = excluded & ~binary
    return {
        "aabb": state["aabbs"][0].float().clone(),
        "occs": torch.where(carved, torch.zeros_like(occs), occs),
        "binary": binary.clone(),
        "carved": carved,
    }


def is_nerfacc_state(state: dict) -> bool:
    """Whether an estimator state dict is in nerfacc's layout (possibly under ``grid.``)."""
    return any(k.removeprefix("grid.") == "binaries" for k in state)


__all__ = ["OccupancyGrid", "build_estimator", "cascade_cell_points", "grid_coords", "occupancy_threshold",
           "state_from_nerfacc", "state_to_nerfacc", "is_nerfacc_state", "update_priority"]
