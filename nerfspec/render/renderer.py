"""Rays -> samples -> field -> composited colour: the one renderer used by training,
evaluation, video and mesh colouring."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Union

import torch
from torch import Tensor

from nerfspec.cameras import Cameras
from nerfspec.render.grid import OccupancyGrid
from nerfspec.render.kernels import render_weights
from nerfspec.render.protocol import Field
from nerfspec.render.sampling import (
    Samples,
    contributing,
    march_front_to_back,
    march_in_passes,
    pass_bounds,
)
from nerfspec.render.volume import composite_weighted, exclusive_sum_packed


EARLY_STOP_MODES = ("separate", "fused", "none")

# What rays are composited onto: a colour, (N, 3) colours, or a learned background that maps
# unit ray directions (N, 3) to colours (N, 3) (fields/background.py; any callable does).
Background = Union[Tensor, Callable[[Tensor], Tensor]]


def background_for(background: Background, dirs: Tensor) -> Tensor:
    """The background colours of rays with unit directions ``dirs`` (N, 3): (3,) or (N, 3)."""
    if isinstance(background, Tensor):
        return background.to(dirs.device)
    return background(dirs)


@dataclass
class RenderResult:
    rgb: Tensor  # (N, 3) composited on the background
    opacity: Tensor  # (N, 1)
    depth: Tensor  # (N, 1) expected distance along the ray (0 where empty)
    n_samples: int  # samples composited
    n_evaluated: int = 0  # densities evaluated to choose them (early stopping), besides the composited
    samples: Samples | None = None  # the composited samples
    n_traversed: int = 0  # samples in occupied cells before early stopping
    weights: Tensor | None = None  # (n_samples,) compositing weights of ``samples``


def render_rays(field: Field, estimator: OccupancyGrid, origins: Tensor, dirs: Tensor,
                background: Tensor, early_stop: str = "separate") -> RenderResult:
    """Render rays (N, 3) + (N, 3) unit directions; background (N, 3) or (3,), with gradients.

    ``early_stop`` says how samples that cannot contribute (behind an opaque surface, alpha
    below the threshold) are dropped before colours are computed:

    - ``separate``: the estimator evaluates densities without gradients, front to back, then
      the field runs forward and backward on the kept samples only (two passes; a GPU's choice);
    - ``fused``: one front-to-back pass computes sigma and features with gradients, and colour
      is computed for the kept samples only (no second density evaluation; a CPU's choice);
    - ``none``: every sample in an occupied cell is rendered.

    All three composite the same samples with the same weights.
    """
    if early_stop not in EARLY_STOP_MODES:
        raise ValueError(f"early_stop must be one of {', '.join(EARLY_STOP_MODES)}, got {early_stop!r}")
    if early_stop == "fused":
        return _render_fused(field, estimator, origins, dirs, background)
    n_rays = origins.shape[0]
    samples = estimator.traverse(origins, dirs)
    traversed, evaluated = len(samples), 0
    if early_stop == "separate":
        samples, evaluated = estimator.prune(samples, origins, dirs, field.density)
    if len(samples) == 0:
        return _empty(n_rays, background, origins.device, traversed, evaluated)
    points = samples.points(origins, dirs)
    sigmas, rgbs = field(points, dirs[samples.ray_indices])
    return _composite(samples, sigmas, rgbs, n_rays, background, estimator.backend, evaluated, traversed)


def _empty(n_rays: int, background: Tensor, device, traversed: int = 0, evaluated: int = 0) -> RenderResult:
    zeros = torch.zeros(n_rays, 1, device=device)
    return RenderResult(background.expand(n_rays, 3).clone(), zeros, zeros, 0, evaluated, None, traversed)


def _composite(samples: Samples, sigmas: Tensor, rgbs: Tensor, n_rays: int, background: Tensor,
               backend: str, n_evaluated: int, n_traversed: int) -> RenderResult:
    weights = render_weights(samples.t_starts, samples.t_ends, sigmas, samples.ray_indices, n_rays, backend)
    rgb, opacity, depth = composite_weighted(weights, samples.t_starts, samples.t_ends, rgbs,
                                             samples.ray_indices, n_rays)
    return RenderResult(rgb + background * (1.0 - opacity), opacity, depth, len(samples), n_evaluated,
                        samples, n_traversed, weights)


def _render_fused(field: Field, estimator: OccupancyGrid, origins: Tensor, dirs: Tensor,
                  background: Tensor) -> RenderResult:
    """``render_rays`` in one front-to-back pass with gradients: ``field.geometry`` on each
    round's samples until a ray is opaque, then ``field.colour`` on the samples that contribute."""
    cfg = estimator.cfg
    n_rays = origins.shape[0]
    samples = estimator.traverse(origins, dirs)
    if len(samples) == 0:
        return _empty(n_rays, background, origins.device)
    points = samples.points(origins, dirs)
    dt = samples.t_ends - samples.t_starts
    rounds: list[tuple[Tensor, Tensor, Tensor]] = []

    def evaluate(sel: Tensor) -> Tensor:
        sigma, h = field.geometry(points[sel])
        rounds.append((sel, sigma, h))
        return sigma.detach() * dt[sel]

    visited = march_front_to_back(samples, n_rays, cfg.early_stop_eps,
                                  estimator.round_size(cfg.early_stop_eps), evaluate)
    order = torch.argsort(torch.cat([r[0] for r in rounds]))  # the visited samples, in order
    sigma = torch.cat([r[1] for r in rounds])[order]
    h = torch.cat([r[2] for r in rounds])[order]
    visited_samples = samples.select(visited)
    keep = contributing(visited_samples, sigma.detach(), n_rays, cfg.alpha_threshold, cfg.early_stop_eps)
    kept = visited_samples.select(keep)
    rgbs = field.colour(h[keep], dirs[kept.ray_indices])
    return _composite(kept, sigma[keep], rgbs, n_rays, background, estimator.backend, len(visited_samples),
                      len(samples))


@torch.inference_mode()
def render_rays_inference(field: Field, estimator: OccupancyGrid, origins: Tensor, dirs: Tensor,
                          background: Tensor, round_size: int = 8, passes: int | None = None) -> RenderResult:
    """``render_rays`` without gradients in one field pass: each ray's samples are evaluated
    front to back (density and colour together) until the ray is opaque; the weights of a round
    continue the transmittance of the rounds before it.

    ``passes`` (default: the estimator's ``render_passes()``) says how the rounds are cut: 0,
    ``round_size`` samples per ray at a time until every ray is done (the fewest field queries;
    two host waits a round); N > 0, N passes (``sampling.pass_bounds``: the first 32 samples of
    every ray, then the next 96, ... , then the rest) with the stopping decided on the device,
    so a chunk costs marching's wait and one per pass. The pixels agree to ``early_stop_eps``."""
    n_rays = origins.shape[0]
    samples = estimator.sample(origins, dirs, None)
    # one scatter per round for colour, opacity and depth: rows [rgb, 1, t_mid] weighted by w
    acc = torch.zeros(n_rays, 5, device=origins.device)
    tau_before = torch.zeros(n_rays, device=origins.device)
    points = samples.points(origins, dirs)
    dt = samples.t_ends - samples.t_starts
    t_mid = ((samples.t_starts + samples.t_ends) * 0.5)[:, None]

    def evaluate(sel: Tensor) -> Tensor:
        rays = samples.ray_indices[sel]
        sigmas, colours = field(points[sel], dirs[rays])
        tau = sigmas.float() * dt[sel]
        trans = torch.exp(-(tau_before[rays] + exclusive_sum_packed(tau, rays, n_rays)))
        w = (trans * (1.0 - torch.exp(-tau)))[:, None]
        values = torch.cat([colours.float(), torch.ones_like(w), t_mid[sel]], dim=1)
        acc.index_add_(0, rays, w * values)
        tau_before.index_add_(0, rays, tau)
        return tau

    eps = estimator.cfg.early_stop_eps
    passes = estimator.render_passes() if passes is None else passes
    if passes > 0:
        visited = march_in_passes(samples, n_rays, eps, pass_bounds(passes), evaluate)
    else:
        visited = int(march_front_to_back(samples, n_rays, eps, round_size, evaluate).sum())
    rgb, opacity, depth = acc[:, :3], acc[:, 3:4], acc[:, 4:5]
    return RenderResult(rgb + background * (1.0 - opacity), opacity, depth, visited)


@torch.inference_mode()
def warm_up(field: Field, estimator: OccupancyGrid, cameras: Cameras, view: int, background: Background,
            rays: int = 256) -> float:
    """Render a few rays of a view once and return the seconds it took: loads the C++ ops and
    sizes the allocator, one-off costs that would otherwise land on the first timed view."""
    t0 = time.perf_counter()
    origins, dirs = cameras[view].to(estimator.aabb.device).image_rays(0)
    step = max(1, origins.shape[0] // rays)
    render_rays_inference(field, estimator, origins[::step], dirs[::step],
                          background_for(background, dirs[::step]))
    return time.perf_counter() - t0


@torch.inference_mode()
def render_image(field: Field, estimator: OccupancyGrid, cameras: Cameras, view: int,
                 background: Background, chunk_rays: int = 8192) -> dict[str, Tensor]:
    """Render view ``view`` of ``cameras`` in chunks of rays (bounded memory): rgb (H, W, 3),
    opacity (H, W), depth (H, W) and the background composited behind each pixel (H, W, 3),
    all float32 on the CPU."""
    device = estimator.aabb.device
    width, height = cameras.view_size(view)
    origins, dirs = cameras[view].to(device).image_rays(0)
    parts = {"rgb": [], "opacity": [], "depth": [], "background": []}
    for lo in range(0, origins.shape[0], chunk_rays):
        chunk_dirs = dirs[lo:lo + chunk_rays]
        bg = background_for(background, chunk_dirs)
        out = render_rays_inference(field, estimator, origins[lo:lo + chunk_rays], chunk_dirs, bg)
        parts["rgb"].append(out.rgb.float().cpu())
        parts["opacity"].append(out.opacity[:, 0].float().cpu())
        parts["depth"].append(out.depth[:, 0].float().cpu())
        parts["background"].append(bg.float().expand(chunk_dirs.shape[0], 3).cpu())
    return {
        "rgb": torch.cat(parts["rgb"]).reshape(height, width, 3).clamp(0, 1),
        "opacity": torch.cat(parts["opacity"]).reshape(height, width),
        "depth": torch.cat(parts["depth"]).reshape(height, width),
        "background": torch.cat(parts["background"]).reshape(height, width, 3),
    }
