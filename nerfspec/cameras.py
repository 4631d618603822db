"""Cameras in the Blender (OpenGL) convention: pixel -> ray, point -> pixel, camera paths.

The camera looks down -z with +y up. Pixel (i, j) (column, row) has its centre at
(i + 0.5, j + 0.5) and camera-space direction ((i + 0.5 - cx) / fx, -(j + 0.5 - cy) / fy, -1);
the pose's 3x3 rotates it to world space and its translation is the ray origin. Blender scenes
have fx = fy = f = 0.5 W / tan(0.5 camera_angle_x) and the principal point at the image centre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


def focal_from_fov(width: int, camera_angle_x: float) -> float:
    """f = 0.5 W / tan(0.5 camera_angle_x), in pixels."""
    return 0.5 * width / math.tan(0.5 * camera_angle_x)


def camera_directions(i: Tensor, j: Tensor, width: int, height: int, focal: float) -> Tensor:
    """Camera-space directions (N, 3), not normalised, of pixels (i, j) (each (N,), float) of a
    centred pinhole camera with focal length ``focal``."""
    return pinhole_directions(i, j, focal, focal, 0.5 * width, 0.5 * height)


def pinhole_directions(i: Tensor, j: Tensor, fx, fy, cx, cy) -> Tensor:
    """Camera-space directions (N, 3), not normalised: ((i + 0.5 - cx) / fx, -(j + 0.5 - cy) / fy, -1).

    i, j (N,) are pixel columns and rows; fx, fy, cx, cy are floats or (N,) tensors in pixels.
    """
    x = (i + 0.5 - cx) / fx
    y = -(j + 0.5 - cy) / fy
    return torch.stack([x, y, -torch.ones_like(x)], dim=-1)


def rotate_to_world(c2w: Tensor, dirs_cam: Tensor) -> tuple[Tensor, Tensor]:
    """Origins (N, 3) and unit world directions (N, 3) of camera-space directions (N, 3) under
    poses c2w (N, 4, 4) or one shared (4, 4) pose."""
    rot = c2w[..., :3, :3]
    dirs = (rot @ dirs_cam.unsqueeze(-1)).squeeze(-1) if rot.dim() == 3 else dirs_cam @ rot.T
    origins = c2w[..., :3, 3].expand(dirs.shape)
    return origins.contiguous(), torch.nn.functional.normalize(dirs, dim=-1)


def pixel_rays(c2w: Tensor, i: Tensor, j: Tensor, width: int, height: int, focal: float
               ) -> tuple[Tensor, Tensor]:
    """World rays of pixels: origins (N, 3) and unit directions (N, 3).

    Args:
        c2w: (N, 4, 4) or (4, 4) camera-to-world poses (one per pixel or shared).
        i, j: (N,) pixel column and row indices.
    """
    return rotate_to_world(c2w, camera_directions(i.float(), j.float(), width, height, focal))


def image_rays(c2w: Tensor, width: int, height: int, focal: float) -> tuple[Tensor, Tensor]:
    """Rays of every pixel of one (4, 4) camera, row-major: origins, dirs each (H*W, 3)."""
    i, j = pixel_grid(width, height, c2w.device)
    return pixel_rays(c2w, i, j, width, height, focal)


def pixel_grid(width: int, height: int, device=None) -> tuple[Tensor, Tensor]:
    """Column i and row j (each (H W,), long) of every pixel, row-major."""
    j, i = torch.meshgrid(torch.arange(height, device=device), torch.arange(width, device=device),
                          indexing="ij")
    return i.reshape(-1), j.reshape(-1)


@dataclass
class Cameras:
    """Per-view cameras of one split, OpenGL/Blender axes (looks down -z, +y up).

    c2w (N, 4, 4) camera-to-world; fx, fy, cx, cy (N,) intrinsics in pixels; ``width`` and
    ``height`` shared by every view, or, when views differ in size, the largest and ``sizes``
    (N, 2) each view's own (width, height) (CPU, int64). ``model`` names the lens: "pinhole"
    (no distortion) is handled here; other models carry ``distortion`` (N, K) coefficients.
    """

    c2w: Tensor
    fx: Tensor
    fy: Tensor
    cx: Tensor
    cy: Tensor
    width: int
    height: int
    model: str = "pinhole"
    distortion: Tensor | None = None
    sizes: Tensor | None = None

    @classmethod
    def pinhole(cls, c2w: Tensor, width: int, height: int, focal: float) -> "Cameras":
        """Centred pinhole cameras with one focal length (the Blender scenes): c2w (N, 4, 4)."""
        n = c2w.shape[0]
        full = lambda v: torch.full((n,), float(v), dtype=torch.float32)  # noqa: E731
        return cls(c2w.float(), full(focal), full(focal), full(0.5 * width), full(0.5 * height),
                   int(width), int(height))

    def __len__(self) -> int:
        return int(self.c2w.shape[0])

    def __getitem__(self, views) -> "Cameras":
        """The cameras of ``views`` (an int, slice or index tensor), as a Cameras."""
        idx = torch.as_tensor([views]) if isinstance(views, int) else views
        pick = lambda t: None if t is None else t[idx]  # noqa: E731
        sizes = None if self.sizes is None else self.sizes[idx.cpu() if isinstance(idx, Tensor) else idx]
        return Cameras(self.c2w[idx], self.fx[idx], self.fy[idx], self.cx[idx], self.cy[idx],
                       self.width, self.height, self.model, pick(self.distortion), sizes)

    def to(self, device) -> "Cameras":
        move = lambda t: None if t is None else t.to(device)  # noqa: E731
        return Cameras(self.c2w.to(device), self.fx.to(device), self.fy.to(device), self.cx.to(device),
                       self.cy.to(device), self.width, self.height, self.model, move(self.distortion),
                       self.sizes)

    def view_size(self, view: int) -> tuple[int, int]:
        """(width, height) of view ``view``."""
        if self.sizes is None:
            return self.width, self.height
        w, h = self.sizes[view].tolist()
        return int(w), int(h)

    @property
    def device(self) -> torch.device:
        return self.c2w.device

    def directions(self, view: Tensor, i: Tensor, j: Tensor) -> Tensor:
        """Camera-space directions (N, 3), not normalised, of pixels (i, j) of views ``view`` (N,)."""
        if self.model != "pinhole":  # undistort the pixel positions, then the pinhole direction
            from nerfspec.lens import pixel_directions

            dirs, _ = pixel_directions(self.model, i, j, self.fx[view], self.fy[view], self.cx[view],
                                       self.cy[view], self.distortion[view])
            return dirs
        return pinhole_directions(i.float(), j.float(), self.fx[view], self.fy[view],
                                  self.cx[view], self.cy[view])

    def rays(self, view: Tensor, i: Tensor, j: Tensor) -> tuple[Tensor, Tensor]:
        """Origins (N, 3) and unit directions (N, 3) of pixels (i, j) (N,) of views ``view`` (N,)."""
        return rotate_to_world(self.c2w[view], self.directions(view, i, j))

    def image_rays(self, view: int) -> tuple[Tensor, Tensor]:
        """Rays of every pixel of one view (at its own size), row-major: origins, dirs each (H W, 3)."""
        i, j = pixel_grid(*self.view_size(view), self.device)
        v = torch.full_like(i, view)
        return self.rays(v, i, j)

    def project(self, points: Tensor, view: int) -> tuple[Tensor, Tensor, Tensor]:
        """Pixel column i, row j (fractional, pixel centres at integers) and depth d, each (N,),
        of world points (N, 3) in one view: with (x, y, z) = R^T (p - t) and d = -z,
        i = fx x / d + cx - 1/2, j = -fy y / d + cy - 1/2."""
        c2w = self.c2w[view]
        cam = (points - c2w[:3, 3]) @ c2w[:3, :3]
        if self.model != "pinhole":  # the lens's forward model
            from nerfspec.lens import project_camera_points

            return project_camera_points(self.model, cam, self.fx[view], self.fy[view], self.cx[view],
                                         self.cy[view], self.distortion[view])
        depth = -cam[:, 2]
        safe = depth.clamp(min=1e-6)
        i = self.fx[view] * cam[:, 0] / safe + self.cx[view] - 0.5
        j = -self.fy[view] * cam[:, 1] / safe + self.cy[view] - 0.5
        return i, j, depth


def look_at(eye: Tensor, target: Tensor | None = None, up: Tensor | None = None) -> Tensor:
    """(4, 4) camera-to-world pose at ``eye`` looking at ``target`` with world ``up`` (+z), in
    ``eye``'s dtype (the scene generator works in float64)."""
    like = {"dtype": eye.dtype, "device": eye.device}
    target = torch.zeros(3, **like) if target is None else target.to(**like)
    up = torch.tensor([0.0, 0.0, 1.0], **like) if up is None else up.to(**like)
    back = torch.nn.functional.normalize(eye - target, dim=0)  # camera +z points away
    right = torch.linalg.cross(up, back)
    if right.norm() < 1e-6:  # looking straight along up: pick any right vector
        right = torch.tensor([1.0, 0.0, 0.0], **like)
    right = torch.nn.functional.normalize(right, dim=0)
    cam_up = torch.linalg.cross(back, right)
    pose = torch.eye(4, **like)
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
