"""A second mesh extractor: truncated signed distance (TSDF) fusion of depth maps that the field
renders from the training cameras (Curless and Levoy 1996; nerfstudio's ``ns-export tsdf``).

Depth map of view k: D_k(pixel) = (sum_i w_i t_i) / (sum_i w_i), the expected distance along the
pixel's unit ray, where its opacity sum_i w_i reaches ``min_opacity``; elsewhere the view sees
background and D_k = inf. A grid point x in view k's frustum, at distance r = |x - c_k| from
the camera centre and projecting (nearest pixel) onto D = D_k(pixel), observes the signed
distance s = D - r (positive in front of the surface). With truncation mu:

    observations  s >= -mu      (points more than mu behind the surface are not observed)
    fused value   d(x) = mean over observations of min(1, s / mu)          in [-1, 1]
    no observation: d = -1 where some frustum holds x (every view that looks is occluded: inside
                    matter), +1 where none does (no camera looked: empty)

The surface is {d = 0}, meshed by the same marching cubes as the density (on 1 - d at level 1,
so that the zero padding outside the box is empty). The grid is fused slab by slab along x:
memory is the R^3 result, the depth maps (N H W floats) and one slab's R^2 points.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from nerfspec.cameras import Cameras
from nerfspec.render.renderer import render_image


@torch.inference_mode()
def render_depth_maps(field, estimator, cameras: Cameras, min_opacity: float = 0.5, chunk_rays: int = 8192,
                      progress: bool = False) -> Tensor:
    """(N, H, W) float32 depth maps D_k of the module docstring (inf where the opacity is below
    ``min_opacity``), rendered by the field from each of ``cameras``."""
    black = torch.zeros(3, device=estimator.aabb.device)
    maps = []
    for k in tqdm(range(len(cameras)), desc="depth maps", disable=not progress, dynamic_ncols=True, leave=False):
        out = render_image(field, estimator, cameras, k, black, chunk_rays)
        opacity = out["opacity"]
        depth = out["depth"] / opacity.clamp(min=1e-6)
        maps.append(torch.where(opacity >= min_opacity, depth, torch.full_like(depth, float("inf"))))
    return torch.stack(maps) if maps else torch.zeros(0, cameras.height, cameras.width)


def fuse_slab(points: Tensor, depths: Tensor, cameras: Cameras, trunc: float) -> Tensor:
    """Fused value d(x) (Q,) in [-1, 1] of points (Q, 3), from depth maps (N, H, W) of
    ``cameras`` and truncation ``trunc`` (scene units), as the module docstring defines it."""
    total = torch.zeros(len(points))
    count = torch.zeros(len(points))
    looked = torch.zeros(len(points), dtype=torch.bool)
    w, h = cameras.width, cameras.height
    for k in range(len(cameras)):
        i, j, depth = cameras.project(points, k)
        ok = (depth > 1e-6) & (i >= -0.5) & (i <= w - 0.5) & (j >= -0.5) & (j <= h - 0.5)
        ii = i.round().long().clamp(0, w - 1)
        jj = j.round().long().clamp(0, h - 1)
        s = depths[k][jj, ii] - (points - cameras.c2w[k, :3, 3]).norm(dim=-1)
        obs = ok & (s >= -trunc)
        total += torch.where(obs, (s / trunc).clamp(max=1.0), 0.0)
        count += obs.float()
        looked |= ok
    unobserved = torch.where(looked, -1.0, 1.0)
    return torch.where(count > 0, total / count.clamp(min=1.0), unobserved)


def fuse_tsdf(depths: Tensor, cameras: Cameras, axes: list[Tensor], trunc: float,
              progress: bool = False) -> np.ndarray:
    """The fused grid d (R_x, R_y, R_z) float32 at the points of ``axes`` (three coordinate
    vectors), one x slab at a time (``fuse_slab``)."""
    rx, ry, rz = (len(a) for a in axes)
    out = np.zeros((rx, ry, rz), dtype=np.float32)
    yz = torch.stack(torch.meshgrid(axes[1], axes[2], indexing="ij"), dim=-1).reshape(-1, 2)
    cams = cameras.to("cpu")
    depths = depths.cpu()
    for x in tqdm(range(rx), desc="tsdf", disable=not progress, dynamic_ncols=True, leave=False):
        pts = torch.cat([axes[0][x].expand(len(yz), 1), yz], dim=1)
        out[x] = fuse_slab(pts, depths, cams, trunc).reshape(ry, rz).numpy()
    return out
