"""Pinhole cameras in the Blender convention: pixel -> ray, and camera paths.

The camera looks down -z with +y up. Pixel (i, j) (column, row) has camera-space direction
((i + 0.5 - W/2) / f, -(j + 0.5 - H/2) / f, -1); the pose's 3x3 rotates it to world space and
its translation is the ray origin. f = 0.5 W / tan(0.5 camera_angle_x).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def focal_from_fov(width: int, camera_angle_x: float) -> float:
    """f = 0.5 W / tan(0.5 camera_angle_x), in pixels."""
    return 0.5 * width / math.tan(0.5 * camera_angle_x)


def camera_directions(i: Tensor, j: Tensor, width: int, height: int, focal: float) -> Tensor:
    """Camera-space directions (N, 3), not normalised, of pixels (i, j) (each (N,), float)."""
    x = (i + 0.5 - 0.5 * width) / focal
    y = -(j + 0.5 - 0.5 * height) / focal
    return torch.stack([x, y, -torch.ones_like(x)], dim=-1)


def pixel_rays(c2w: Tensor, i: Tensor, j: Tensor, width: int, height: int, focal: float
               ) -> tuple[Tensor, Tensor]:
    """World rays of pixels: origins (N, 3) and unit directions (N, 3).

    Args:
        c2w: (N, 4, 4) or (4, 4) camera-to-world poses (one per pixel or shared).
        i, j: (N,) pixel column and row indices.
    """
    dirs_cam = camera_directions(i.float(), j.float(), width, height, focal)
    rot = c2w[..., :3, :3]
    dirs = (rot @ dirs_cam.unsqueeze(-1)).squeeze(-1) if rot.dim() == 3 else dirs_cam @ rot.T
    origins = c2w[..., :3, 3].expand(dirs.shape)
    return origins.contiguous(), torch.nn.functional.normalize(dirs, dim=-1)


def image_rays(c2w: Tensor, width: int, height: int, focal: float) -> tuple[Tensor, Tensor]:
    """Rays of every pixel of one (4, 4) camera, row-major: origins, dirs each (H*W, 3)."""
    j, i = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    return pixel_rays(c2w, i.reshape(-1), j.reshape(-1), width, height, focal)


def look_at(eye: Tensor, target: Tensor | None = None, up: Tensor | None = None) -> Tensor:
    """(4, 4) camera-to-world pose at ``eye`` looking at ``target`` with world ``up`` (+z)."""
    target = torch.zeros(3) if target is None else target
    up = torch.tensor([0.0, 0.0, 1.0]) if up is None else up
    back = torch.nn.functional.normalize(eye - target, dim=0)  # camera +z points away
    right = torch.linalg.cross(up, back)
    if right.norm() < 1e-6:  # looking straight along up: pick any right vector
        right = torch.tensor([1.0, 0.0, 0.0])
    right = torch.nn.functional.normalize(right, dim=0)
    cam_up = torch.linalg.cross(back, right)
    pose = torch.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = right, cam_up, back, eye
    return pose


def orbit_path(frames: int, radius: float, elevation_deg: float, turns: float = 1.0) -> Tensor:
    """(frames, 4, 4) poses circling the z axis at ``radius`` and elevation, looking at 0."""
    az = torch.arange(frames, dtype=torch.float32) * (2 * math.pi * turns / frames)
    el = math.radians(elevation_deg)
    eyes = torch.stack([radius * math.cos(el) * torch.cos(az), radius * math.cos(el) * torch.sin(az),
                        torch.full_like(az, radius * math.sin(el))], dim=-1)
    return torch.stack([look_at(e) for e in eyes])


def spiral_path(frames: int, radius: float, elevation_deg: float, amplitude_deg: float = 15.0,
                turns: float = 2.0) -> Tensor:
    """(frames, 4, 4) poses on a spiral: azimuth turns ``turns`` times while the elevation
    oscillates by +-``amplitude_deg`` around ``elevation_deg``."""
    t = torch.arange(frames, dtype=torch.float32) / frames
    az = 2 * math.pi * turns * t
    el = torch.deg2rad(elevation_deg + amplitude_deg * torch.sin(2 * math.pi * t))
    eyes = torch.stack([radius * torch.cos(el) * torch.cos(az), radius * torch.cos(el) * torch.sin(az),
                        radius * torch.sin(el)], dim=-1)
    return torch.stack([look_at(e) for e in eyes])


def ray_aabb_intersect(origins: Tensor, dirs: Tensor, aabb: Tensor) -> tuple[Tensor, Tensor]:
    """Slab test: entry and exit distances (N,) of rays with the box aabb = [min(3), max(3)].

    t_near = max_k min(t0_k, t1_k), t_far = min_k max(t0_k, t1_k), t0 = (min - o) / d; a ray
    that misses has t_near >= t_far. t_near is clamped at 0 (origins inside the box).
    """
    inv = 1.0 / torch.where(dirs.abs() < 1e-12, torch.full_like(dirs, 1e-12), dirs)
    t0 = (aabb[:3] - origins) * inv
    t1 = (aabb[3:] - origins) * inv
    t_near = torch.minimum(t0, t1).amax(dim=-1).clamp(min=0.0)
    t_far = torch.maximum(t0, t1).amin(dim=-1)
    return t_near, t_far
