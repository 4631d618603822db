"""A smooth camera path through a capture's training cameras (``nerfspec render --path interpolate``).

The cameras are taken in their order (file-name order: for frames cut from a video, the order
they were filmed in). Positions and orientations (unit quaternions, signs aligned so that
neighbours are within 90 degrees) are smoothed with a Gaussian over the sequence, then the
path is resampled at ``frames`` points evenly spaced by arc length: positions interpolate
linearly, orientations by normalised linear interpolation (nlerp) of the quaternions.
"""

from __future__ import annotations

import torch
from torch import Tensor


def rotation_to_quaternion(rot: Tensor) -> Tensor:
    """(N, 3, 3) rotations -> (N, 4) unit quaternions (w, x, y, z), w >= 0.

    From the largest of the four candidates 4 w^2 = 1 + tr R, 4 x^2 = 1 + R00 - R11 - R22,
    4 y^2 = 1 - R00 + R11 - R22, 4 z^2 = 1 - R00 - R11 + R22 (the best-conditioned one), the
    others follow from the off-diagonal sums and differences.
    """
    r = rot.double()
    m00, m11, m22 = r[:, 0, 0], r[:, 1, 1], r[:, 2, 2]
    cand = torch.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1)
    best = cand.argmax(dim=-1)
    s = 2.0 * torch.sqrt(cand.gather(1, best[:, None])[:, 0].clamp(min=1e-12))
    d21, d02, d10 = r[:, 2, 1] - r[:, 1, 2], r[:, 0, 2] - r[:, 2, 0], r[:, 1, 0] - r[:, 0, 1]
    s21, s02, s10 = r[:, 2, 1] + r[:, 1, 2], r[:, 0, 2] + r[:, 2, 0], r[:, 1, 0] + r[:, 0, 1]
    q = torch.stack([
        torch.stack([s / 4, d21 / s, d02 / s, d10 / s], -1),
        torch.stack([d21 / s, s / 4, s10 / s, s02 / s], -1),
        torch.stack([d02 / s, s10 / s, s / 4, s21 / s], -1),
        torch.stack([d10 / s, s02 / s, s21 / s, s / 4], -1),
    ], 1)[torch.arange(r.shape[0]), best]
    q = q * torch.where(q[:, :1] < 0, -1.0, 1.0)
    return torch.nn.functional.normalize(q, dim=-1).to(rot.dtype)


def quaternion_to_rotation(q: Tensor) -> Tensor:
    """(N, 4) quaternions (w, x, y, z), normalised first -> (N, 3, 3) rotations."""
    w, x, y, z = torch.nn.functional.normalize(q, dim=-1).unbind(-1)
    return torch.stack([
        torch.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        torch.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        torch.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def align_signs(q: Tensor) -> Tensor:
    """Flip quaternions (N, 4) so that each has a non-negative dot product with the one before
    (q and -q are the same rotation; averaging needs them on one side)."""
    out = q.clone()
    for k in range(1, len(out)):
        if float(out[k] @ out[k - 1]) < 0:
            out[k] = -out[k]
    return out


def gaussian_smooth(x: Tensor, sigma: float) -> Tensor:
    """Smooth (N, D) along N with a Gaussian of std ``sigma`` samples (edges repeat; sigma 0:
    unchanged): x'_k = sum_j w_{k-j} x_j / sum_j w_{k-j}, w_m = exp(-m^2 / (2 sigma^2))."""
    if sigma <= 0 or len(x) < 2:
        return x.clone()
    radius = int(3 * sigma + 0.5)
    offsets = torch.arange(-radius, radius + 1, dtype=x.dtype)
    w = torch.exp(-0.5 * (offsets / sigma) ** 2)
    idx = (torch.arange(len(x))[:, None] + torch.arange(-radius, radius + 1)[None]).clamp(0, len(x) - 1)
    return (x[idx] * w[None, :, None]).sum(1) / w.sum()


def interpolate_path(poses: Tensor, frames: int, smoothing: float = 1.0) -> Tensor:
    """(frames, 4, 4) camera-to-world poses along the smoothed path through ``poses`` (N, 4, 4),
    evenly spaced by arc length; ``smoothing`` is the Gaussian's std in input cameras."""
    if len(poses) < 2:
        return poses[:1].expand(frames, 4, 4).clone()
    p = poses.double()
    pos = gaussian_smooth(p[:, :3, 3], smoothing)
    quat = gaussian_smooth(align_signs(rotation_to_quaternion(p[:, :3, :3])), smoothing)
    arc = torch.cat([torch.zeros(1, dtype=pos.dtype), (pos[1:] - pos[:-1]).norm(dim=-1).cumsum(0)])
    if float(arc[-1]) <= 1e-12:  # cameras that do not move: follow the sequence index
        arc = torch.arange(len(pos), dtype=pos.dtype)
    s = torch.linspace(0, float(arc[-1]), frames, dtype=pos.dtype)
    hi = torch.searchsorted(arc, s, right=True).clamp(1, len(arc) - 1)
    lo = hi - 1
    t = ((s - arc[lo]) / (arc[hi] - arc[lo]).clamp(min=1e-12)).clamp(0, 1)[:, None]
    out = torch.eye(4, dtype=pos.dtype).repeat(frames, 1, 1)
    out[:, :3, 3] = pos[lo] + t * (pos[hi] - pos[lo])
    out[:, :3, :3] = quaternion_to_rotation(quat[lo] + t * (quat[hi] - quat[lo]))
    return out.to(poses.dtype)
