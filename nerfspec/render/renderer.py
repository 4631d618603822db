"""Rays -> samples -> field -> composited colour: the one renderer used by training,
evaluation, video and mesh colouring."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from nerfspec.cameras import Cameras
from nerfspec.render.grid import OccupancyGrid
from nerfspec.render.kernels import render_weights
from nerfspec.render.protocol import Field
from nerfspec.render.sampling import march_front_to_back
from nerfspec.render.volume import composite_weighted, exclusive_sum_packed


@dataclass
class RenderResult:
    rgb: Tensor  # (N, 3) composited on the background
    opacity: Tensor  # (N, 1)
    depth: Tensor  # (N, 1) expected distance along the ray (0 where empty)
    n_samples: int


def render_rays(field: Field, estimator: OccupancyGrid, origins: Tensor, dirs: Tensor,
                background: Tensor, early_stop: bool = True) -> RenderResult:
    """Render rays (N, 3) + (N, 3) unit directions; background (N, 3) or (3,).

    With ``early_stop`` the estimator evaluates densities (without gradients) to drop
    samples behind opaque surfaces or below its alpha threshold before the full pass.
    """
    n_rays = origins.shape[0]
    samples = estimator.sample(origins, dirs, field.density if early_stop else None)
    if len(samples) == 0:
        zeros = torch.zeros(n_rays, 1, device=origins.device)
        return RenderResult(background.expand(n_rays, 3).clone(), zeros, zeros, 0)
    points = samples.points(origins, dirs)
    sigmas, rgbs = field(points, dirs[samples.ray_indices])
    weights = render_weights(samples.t_starts, samples.t_ends, sigmas, samples.ray_indices, n_rays,
                             estimator.backend)
    rgb, opacity, depth = composite_weighted(weights, samples.t_starts, samples.t_ends, rgbs,
                                             samples.ray_indices, n_rays)
    return RenderResult(rgb + background * (1.0 - opacity), opacity, depth, len(samples))


@torch.no_grad()
def render_rays_inference(field: Field, estimator: OccupancyGrid, origins: Tensor, dirs: Tensor,
                          background: Tensor, round_size: int = 8) -> RenderResult:
    """``render_rays`` without gradients in one field pass: each ray's samples are evaluated
    front to back (density and colour together), ``round_size`` at a time, until the ray is
    opaque; the weights of a round continue the transmittance of the rounds before it."""
    n_rays = origins.shape[0]
    samples = estimator.sample(origins, dirs, None)
    rgb = torch.zeros(n_rays, 3, device=origins.device)
    opacity = torch.zeros(n_rays, 1, device=origins.device)
    depth = torch.zeros(n_rays, 1, device=origins.device)
    tau_before = torch.zeros(n_rays, device=origins.device)
    points = samples.points(origins, dirs)
    dt = samples.t_ends - samples.t_starts

    def evaluate(sel: Tensor) -> Tensor:
        rays = samples.ray_indices[sel]
        sigmas, colours = field(points[sel], dirs[rays])
        tau = sigmas * dt[sel]
        trans = torch.exp(-(tau_before[rays] + exclusive_sum_packed(tau, rays, n_rays)))
        w = (trans * (1.0 - torch.exp(-tau)))[:, None]
        rgb.index_add_(0, rays, w * colours.float())
        opacity.index_add_(0, rays, w)
        depth.index_add_(0, rays, w * ((samples.t_starts[sel] + samples.t_ends[sel]) * 0.5)[:, None])
        tau_before.index_add_(0, rays, tau)
        return tau

    visited = march_front_to_back(samples, n_rays, estimator.cfg.early_stop_eps, round_size, evaluate)
    return RenderResult(rgb + background * (1.0 - opacity), opacity, depth, int(visited.sum()))


@torch.no_grad()
def render_image(field: Field, estimator: OccupancyGrid, cameras: Cameras, view: int,
                 background: Tensor, chunk_rays: int = 8192) -> dict[str, Tensor]:
    """Render view ``view`` of ``cameras`` in chunks of rays (bounded memory): rgb (H, W, 3),
    opacity (H, W), depth (H, W), all float32 on the CPU."""
    device = estimator.aabb.device
    width, height = cameras.width, cameras.height
    origins, dirs = cameras[view].to(device).image_rays(0)
    background = background.to(device)
    parts = {"rgb": [], "opacity": [], "depth": []}
    for lo in range(0, origins.shape[0], chunk_rays):
        out = render_rays_inference(field, estimator, origins[lo:lo + chunk_rays],
                                    dirs[lo:lo + chunk_rays], background)
        parts["rgb"].append(out.rgb.float().cpu())
        parts["opacity"].append(out.opacity[:, 0].float().cpu())
        parts["depth"].append(out.depth[:, 0].float().cpu())
    return {
        "rgb": torch.cat(parts["rgb"]).reshape(height, width, 3).clamp(0, 1),
        "opacity": torch.cat(parts["opacity"]).reshape(height, width),
        "depth": torch.cat(parts["depth"]).reshape(height, width),
    }
