"""Preview frames: the field and occupancy grid that ``render_image`` renders, sampled more
cheaply while the browser's camera moves (the frame refines to ``render_image`` once it stops).

A preview differs from ``render_image`` in three ways, each bounded:

- steps of ``step_scale`` x ``sampler.render_step_size`` through the same occupied cells (a
  coarser quadrature of the same densities);
- a ray stops once its transmittance T = exp(-sum tau) is below ``early_stop_eps``: what lies
  behind could change its colour by at most T;
- colour is computed only for samples whose weight w_s = T_s (1 - exp(-tau_s)) is at least
  ``min_weight``; the weight of the others goes to the background:

      rgb = sum_{kept s} w_s c_s + (1 - sum_{kept s} w_s) bg

  so a pixel moves by at most the sum of its skipped weights from the composite of the same
  samples. Opacity and depth sum every visited sample's weight, as ``render_image``'s do.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from nerfspec.cameras import Cameras
from nerfspec.render.renderer import Background, background_for
from nerfspec.render.sampling import march_front_to_back
from nerfspec.render.volume import exclusive_sum_packed


@dataclass(frozen=True)
class PreviewSampling:
    """How previews sample the field (module docstring)."""

    step_scale: float = 2.0
    early_stop_eps: float = 1e-3
    min_weight: float = 1e-2
    round_size: int = 4  # samples per ray per front-to-back round
    chunk_rays: int = 16384


@torch.inference_mode()
def preview_rays(field, estimator, origins: Tensor, dirs: Tensor, background: Tensor,
                 sampling: PreviewSampling) -> tuple[Tensor, Tensor, Tensor]:
    """rgb (N, 3), opacity (N,) and depth (N,) of rays (N, 3) with unit directions (N, 3)
    composited on ``background`` (N, 3) or (3,), sampled as the module docstring says."""
    n_rays = origins.shape[0]
    samples = estimator.traverse(origins, dirs, sampling.step_scale * estimator.cfg.render_step_size)
    rgb = torch.zeros(n_rays, 3, device=origins.device)
    coloured = torch.zeros(n_rays, device=origins.device)  # sum of the kept weights
    sums = torch.zeros(n_rays, 2, device=origins.device)  # sum of w, sum of w t_mid
    tau_before = torch.zeros(n_rays, device=origins.device)

    def evaluate(sel: Tensor) -> Tensor:
        # positions of this round's samples only: most marched samples are never visited
        rays, t_start, t_end = samples.ray_indices[sel], samples.t_starts[sel], samples.t_ends[sel]
        ray_dirs = dirs[rays]
        t_mid = (t_start + t_end) * 0.5
        sigma, h = field.geometry(origins[rays] + t_mid[:, None] * ray_dirs)
        tau = sigma.float() * (t_end - t_start)
        w = torch.exp(-(tau_before[rays] + exclusive_sum_packed(tau, rays, n_rays))) * -torch.expm1(-tau)
        keep = (w >= sampling.min_weight).nonzero().squeeze(1)
        kept_rays, kept_w = rays[keep], w[keep]
        rgb.index_add_(0, kept_rays, kept_w[:, None] * field.colour(h[keep], ray_dirs[keep]).float())
        coloured.index_add_(0, kept_rays, kept_w)
        sums.index_add_(0, rays, torch.stack([w, w * t_mid], dim=1))
        tau_before.index_add_(0, rays, tau)
        return tau

    march_front_to_back(samples, n_rays, sampling.early_stop_eps, sampling.round_size, evaluate)
    rgb = rgb + background * (1.0 - coloured)[:, None]
    return rgb, sums[:, 0], sums[:, 1]


@torch.inference_mode()
def render_preview(field, estimator, cameras: Cameras, view: int, background: Background,
                   sampling: PreviewSampling) -> dict[str, Tensor]:
    """``render_image``'s outputs (rgb (H, W, 3), opacity (H, W), depth (H, W), background
    (H, W, 3), float32 on the CPU) of a preview of view ``view`` of ``cameras``."""
    device = estimator.aabb.device
    width, height = cameras.view_size(view)
    origins, dirs = cameras[view].to(device).image_rays(0)
    parts: dict[str, list[Tensor]] = {"rgb": [], "opacity": [], "depth": [], "background": []}
    for lo in range(0, origins.shape[0], sampling.chunk_rays):
        chunk_dirs = dirs[lo:lo + sampling.chunk_rays]
        bg = background_for(background, chunk_dirs).float()
        rgb, opacity, depth = preview_rays(field, estimator, origins[lo:lo + sampling.chunk_rays], chunk_dirs,
                                           bg, sampling)
        for key, value in (("rgb", rgb), ("opacity", opacity), ("depth", depth),
                           ("background", bg.expand(chunk_dirs.shape[0], 3))):
            parts[key].append(value.cpu())
    shapes = {"rgb": (height, width, 3), "opacity": (height, width), "depth": (height, width),
              "background": (height, width, 3)}
    out = {key: torch.cat(value).reshape(shapes[key]) for key, value in parts.items()}
    out["rgb"] = out["rgb"].clamp(0, 1)
    return out
