"""Volume rendering of packed samples (nerfacc's maths), in pure PyTorch.

Samples of many rays are flattened: sample s lies on ray ``ray_indices[s]`` over the interval
[t_starts[s], t_ends[s]], and samples of one ray are contiguous and in order along it. With
tau_s = sigma_s (t_end - t_start):

    alpha_s = 1 - exp(-tau_s),   T_s = exp(-sum_{s' before s on the ray} tau_s'),   w_s = T_s alpha_s

and a ray's colour is sum_s w_s c_s, its opacity sum_s w_s, its depth sum_s w_s t_mid_s.
"""

from __future__ import annotations

import torch
from torch import Tensor


def segment_starts(ray_indices: Tensor, n_rays: int) -> tuple[Tensor, Tensor]:
    """First sample index (n_rays,) and sample count (n_rays,) of each ray's segment.

    With ray_indices sorted (packed samples), start_r = #{s : ray_indices[s] < r} and
    count_r = #{s : ray_indices[s] <= r} - start_r, by binary search: outputs of n_rays entries,
    whose size is known without reading the data (``bincount`` reads the largest index back)."""
    rays = torch.arange(n_rays + 1, device=ray_indices.device, dtype=ray_indices.dtype)
    bounds = torch.searchsorted(ray_indices, rays)
    return bounds[:-1], bounds[1:] - bounds[:-1]


def exclusive_sum_packed(values: Tensor, ray_indices: Tensor, n_rays: int) -> Tensor:
    """Per-ray exclusive prefix sum of packed ``values`` (S,): out_s = sum of earlier samples
    of the same ray. Accumulates in float64 so long batches keep float32 accuracy."""
    if values.numel() == 0:
        return values
    v64 = values.double()
    before = torch.cumsum(v64, 0) - v64  # exclusive sum over the whole batch
    starts, _ = segment_starts(ray_indices, n_rays)
    return (before - before[starts[ray_indices]]).to(values.dtype)


def render_weights(t_starts: Tensor, t_ends: Tensor, sigmas: Tensor, ray_indices: Tensor,
                   n_rays: int) -> tuple[Tensor, Tensor, Tensor]:
    """Weights w, transmittance T and alpha (each (S,)) from packed densities (S,)."""
    tau = sigmas * (t_ends - t_starts)
    trans = torch.exp(-exclusive_sum_packed(tau, ray_indices, n_rays))
    alphas = 1.0 - torch.exp(-tau)
    return trans * alphas, trans, alphas


def accumulate(values: Tensor | None, weights: Tensor, ray_indices: Tensor, n_rays: int) -> Tensor:
    """sum_s w_s v_s per ray: (n_rays, D) for values (S, D), or (n_rays, 1) for values None."""
    src = weights[:, None] if values is None else weights[:, None] * values
    out = torch.zeros(n_rays, src.shape[-1], dtype=src.dtype, device=src.device)
    return out.index_add(0, ray_indices, src)


def composite_weighted(weights: Tensor, t_starts: Tensor, t_ends: Tensor, rgbs: Tensor,
                       ray_indices: Tensor, n_rays: int) -> tuple[Tensor, Tensor, Tensor]:
    """rgb (n_rays, 3), opacity (n_rays, 1), depth (n_rays, 1) of packed samples with weights w (S,)."""
    # one scatter for the three sums: [c, 1, t_mid] per sample
    t_mid = ((t_starts + t_ends) * 0.5)[:, None]
    values = torch.cat([rgbs.to(weights.dtype), torch.ones_like(t_mid), t_mid], dim=1)
    out = accumulate(values, weights, ray_indices, n_rays)
    return out[:, :3], out[:, 3:4], out[:, 4:5]


def composite_rays(t_starts: Tensor, t_ends: Tensor, sigmas: Tensor, rgbs: Tensor,
                   ray_indices: Tensor, n_rays: int) -> tuple[Tensor, Tensor, Tensor]:
    """rgb (n_rays, 3), opacity (n_rays, 1), depth (n_rays, 1) of packed samples (S,) with
    densities (S,) and colours (S, 3)."""
    weights, _, _ = render_weights(t_starts, t_ends, sigmas, ray_indices, n_rays)
    return composite_weighted(weights, t_starts, t_ends, rgbs, ray_indices, n_rays)
