"""Comparing two sets of cameras up to a similarity: Procrustes (Umeyama) alignment of camera
centres, the aligned poses, and rotation / translation errors per camera (BARF's protocol).

Poses refined from noisy ones live in a frame that may have drifted as a whole (the
photometric loss cannot see a global rotation, translation or scale of every camera and the
scene together), so they are compared with the true ones after the similarity that best maps
the refined camera centres onto the true ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from nerfspec.poses.lie import rotation_angle


@dataclass
class Similarity:
    """x -> s R x + t: scale s (float), rotation R (3, 3), translation t (3,), float64."""

    scale: float
    rotation: Tensor
    translation: Tensor

    def apply(self, points: Tensor) -> Tensor:
        """s R x + t for points (N, 3)."""
        return self.scale * points.double() @ self.rotation.T + self.translation

    def apply_to_poses(self, c2w: Tensor) -> Tensor:
        """Camera-to-world poses (N, 4, 4) moved by the similarity: rotation R R_c, centre
        s R t_c + t (a camera stays rigid; only where it stands scales)."""
        out = c2w.double().clone()
        out[:, :3, :3] = self.rotation @ out[:, :3, :3]
        out[:, :3, 3] = self.apply(out[:, :3, 3])
        return out.to(c2w.dtype)

    def inverse(self) -> "Similarity":
        """x -> R^T (x - t) / s."""
        rot_t = self.rotation.T
        return Similarity(1.0 / self.scale, rot_t, -(rot_t @ self.translation) / self.scale)

    def to_dict(self) -> dict:
        return {"scale": self.scale, "rotation": self.rotation.tolist(), "translation": self.translation.tolist()}


def procrustes(src: Tensor, dst: Tensor) -> Similarity:
    """The similarity minimising sum_i |dst_i - (s R src_i + t)|^2 (Umeyama 1991), for points
    src, dst (N, 3), N >= 3 not all on a line:

        S = (1/N) sum_i (dst_i - mu_d)(src_i - mu_s)^T = U D V^T,  E = diag(1, 1, det(U V^T)),
        R = U E V^T,  s = tr(D E) / ((1/N) sum_i |src_i - mu_s|^2),  t = mu_d - s R mu_s.

    Computed in float64; it recovers a known similarity exactly (to rounding)."""
    src, dst = src.double(), dst.double()
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    cov = b.T @ a / src.shape[0]
    u, d, vt = torch.linalg.svd(cov)
    e = torch.ones(3, dtype=torch.float64)
    e[2] = torch.sign(torch.det(u @ vt))
    rot = u @ torch.diag(e) @ vt
    var = (a * a).sum(-1).mean()
    scale = float((d * e).sum() / var)
    return Similarity(scale, rot, mu_d - scale * rot @ mu_s)


@dataclass
class PoseErrors:
    """Per-camera errors of aligned poses against the true ones: rotation (N,) in degrees,
    translation (N,) as BARF measures it (|t_a - t_b| of the world-to-camera translations
    t = -R^T c, which also grows with the rotation error times the camera's distance) and
    centre (N,) the distance between camera centres, both in scene units."""

    rotation_deg: Tensor
    translation: Tensor
    centre: Tensor

    def summary(self) -> dict:
        return {"rotation_deg": float(self.rotation_deg.mean()), "translation": float(self.translation.mean()),
                "centre": float(self.centre.mean()), "rotation_deg_max": float(self.rotation_deg.max()),
                "cameras": len(self.rotation_deg)}


def pose_errors(poses: Tensor, true: Tensor) -> PoseErrors:
    """Errors of camera-to-world ``poses`` (N, 4, 4) against ``true`` (N, 4, 4), as they are
    (align them first with ``align_to``)."""
    poses, true = poses.double(), true.double()
    rot_a, rot_b = poses[:, :3, :3], true[:, :3, :3]
    angle = torch.rad2deg(rotation_angle(rot_a, rot_b))
    w2c_t = lambda p: -(p[:, :3, :3].transpose(1, 2) @ p[:, :3, 3:])[:, :, 0]  # noqa: E731
    return PoseErrors(angle, (w2c_t(poses) - w2c_t(true)).norm(dim=-1),
                      (poses[:, :3, 3] - true[:, :3, 3]).norm(dim=-1))


def align_to(poses: Tensor, true: Tensor) -> tuple[Tensor, Similarity]:
    """``poses`` (N, 4, 4) moved by the similarity that best maps their centres onto those of
    ``true`` (``procrustes``), and that similarity."""
    sim = procrustes(poses[:, :3, 3], true[:, :3, 3])
    return sim.apply_to_poses(poses.double()), sim
