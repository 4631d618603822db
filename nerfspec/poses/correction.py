"""Per-camera pose corrections: a twist per training camera, applied to its loaded pose before
rays are generated, and the synthetic pose noise of BARF (Lin et al. 2021) they undo.

A correction xi = (w, u) moves the camera as a rigid motion of the world about the scene
centre c (the centre of ``data.aabb``): M x = R (x - c) + c + V u with [[R, V u], [0, 1]] =
exp(xi) (``lie.se3_exp``), so the corrected camera-to-world pose is M c2w. Rotating about the
scene's centre rather than the camera's own makes the direction a camera can slide along
without changing its image much (orbiting the object) one coordinate of xi instead of a
balance of a rotation against a translation, which a per-coordinate optimiser (Adam) walks
far more easily. BARF composes its corrections on the same side.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nerfspec.poses.lie import invert, se3_exp


def correct_poses(c2w: Tensor, twists: Tensor, centre: Tensor) -> Tensor:
    """Corrected camera-to-world poses (N, 4, 4): rotation R_xi R and centre
    t + (R_xi - I)(t - c) + V u, i.e. M c2w with M the motion about ``centre`` c (3,) of
    twists (N, 6) (module docstring). Written so that a zero twist returns ``c2w`` bit for bit
    (R_xi = I and R_xi - I = 0 exactly)."""
    motion = se3_exp(twists.to(torch.float64)).to(c2w.dtype)
    rot, move = motion[:, :3, :3], motion[:, :3, 3]
    eye = torch.eye(3, dtype=c2w.dtype, device=c2w.device)
    t = c2w[:, :3, 3]
    offset = ((rot - eye) @ (t - centre.to(c2w))[:, :, None])[:, :, 0]
    top = torch.cat([rot @ c2w[:, :3, :3], (t + offset + move)[:, :, None]], dim=2)
    return torch.cat([top, c2w[:, 3:, :]], dim=1)


def correct_in_camera_frame(c2w: Tensor, twists: Tensor) -> Tensor:
    """Corrected camera-to-world poses (N, 4, 4) c2w exp(xi): the motion applied in each
    camera's own frame (rotation about the camera's centre, translation along its axes), bit
    for bit ``c2w`` for a zero twist."""
    motion = se3_exp(twists.to(torch.float64)).to(c2w.dtype)
    rot, move = motion[:, :3, :3], motion[:, :3, 3]
    top = torch.cat([c2w[:, :3, :3] @ rot, (c2w[:, :3, 3] + (c2w[:, :3, :3] @ move[:, :, None])[:, :, 0])[:, :, None]],
                    dim=2)
    return torch.cat([top, c2w[:, 3:, :]], dim=1)


def perturb_poses(c2w: Tensor, twists: Tensor) -> Tensor:
    """BARF's synthetic noise: world-to-camera W' = W exp(xi), i.e. c2w' = exp(xi)^-1 c2w
    (N, 4, 4) for twists xi (N, 6) (BARF draws xi ~ N(0, 0.15^2 I))."""
    return invert(se3_exp(twists.to(torch.float64))).to(c2w.dtype) @ c2w


def noise_twists(count: int, sigma: float, seed: int) -> Tensor:
    """(count, 6) float64 twists with every entry ~ N(0, sigma^2), from ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(count, 6, generator=gen, dtype=torch.float64) * sigma


def fixed_size_twists(count: int, rotation_rad: float, translation: float, seed: int) -> Tensor:
    """(count, 6) float64 twists whose rotation vectors have length ``rotation_rad`` and whose
    translations have length ``translation``, in uniformly random directions from ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    w = nn.functional.normalize(torch.randn(count, 3, generator=gen, dtype=torch.float64), dim=-1)
    u = nn.functional.normalize(torch.randn(count, 3, generator=gen, dtype=torch.float64), dim=-1)
    return torch.cat([w * rotation_rad, u * translation], dim=-1)


FRAMES = ("scene", "camera")


class PoseCorrections(nn.Module):
    """One learned twist per training camera (``twists`` (N, 6), zero at the start), a motion
    about the scene centre ``centre`` (3,) (``frame`` "scene") or in each camera's own frame
    ("camera"); ``forward(c2w)`` returns the corrected poses."""

    def __init__(self, n_views: int, centre: Tensor, frame: str = "scene"):
        super().__init__()
        if frame not in FRAMES:
            raise ValueError(f"frame must be one of {', '.join(FRAMES)}, got {frame!r}")
        self.frame = frame
        self.twists = nn.Parameter(torch.zeros(n_views, 6))
        self.register_buffer("centre", centre.detach().float().clone())

    def forward(self, c2w: Tensor) -> Tensor:
        if self.frame == "camera":
            return correct_in_camera_frame(c2w, self.twists)
        return correct_poses(c2w, self.twists, self.centre)
