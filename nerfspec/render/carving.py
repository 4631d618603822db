"""Visual-hull carving: occupancy-grid cells that some training view sees as background.

A point whose projection lands on a pixel with alpha = 0 (the silhouette, dilated to cover a
cell's footprint) cannot hold matter the view would have seen, so its cell starts empty. With
masked scenes such as the Blender ones this removes most of the box before the field has
learned anything, which is what makes the first steps cheap on a CPU.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from nerfspec.cameras import Cameras
from nerfspec.render.sampling import grid_coords


def dilate_masks(masks: Tensor, radius: int) -> Tensor:
    """Binary dilation of (N, H, W) bool masks by a (2r + 1)^2 square (separably: a row pass,
    then a column pass)."""
    if radius <= 0:
        return masks
    k = 2 * radius + 1
    x = F.max_pool2d(masks.float()[:, None], (1, k), stride=1, padding=(0, radius))
    x = F.max_pool2d(x, (k, 1), stride=1, padding=(radius, 0))
    return x[:, 0] > 0.5


def carve_empty_cells(aabb: Tensor, resolution: int, alpha: Tensor, cameras: Cameras,
                      min_alpha: int = 1, max_views: int = 32) -> Tensor:
    """Flat (R^3,) mask of cells that at least one view sees as background.

    Args:
        alpha: (N, H, W) uint8 alpha of the training images; pixels below ``min_alpha`` are
            background.
        cameras: the N views' cameras.
    A cell counts as seen empty when its centre projects, in front of the camera and inside
    the image, onto a background pixel of the silhouette dilated by the cell's largest
    footprint (its half-diagonal at its nearest possible depth), so no cell holding a
    visible surface is carved. At most ``max_views`` evenly spaced views are used.
    """
    n = alpha.shape[0]
    size = aabb[3:] - aabb[:3]
    centres = aabb[:3] + (grid_coords(resolution).float() + 0.5) / resolution * size
    half_diag = 0.5 * float(size.norm()) / resolution
    box_radius = 0.5 * float(size.norm())
    empty = torch.zeros(centres.shape[0], dtype=torch.bool)
    for k in torch.linspace(0, n - 1, min(n, max_views)).round().long().unique().tolist():
        nearest = max(float(cameras.c2w[k, :3, 3].norm()) - box_radius, 0.1)
        focal = float(torch.maximum(cameras.fx[k], cameras.fy[k]))
        radius = math.ceil(focal * half_diag / nearest) + 1
        silhouette = dilate_masks((alpha[k] >= min_alpha)[None], radius)[0]
        i, j, depth = cameras.project(centres, k)
        ii, jj = i.round().long(), j.round().long()
        w, h = cameras.view_size(k)  # views smaller than the stored images: the rest is padding
        inside = (depth > 0) & (ii >= 0) & (ii < w) & (jj >= 0) & (jj < h)
        hit = torch.zeros_like(empty)
        hit[inside] = ~silhouette[jj[inside], ii[inside]]
        empty |= hit
    return empty
