"""Rigid motions as 4x4 matrices and their Lie algebra se(3): the exponential map, composition,
inverse and the angle between rotations (pure functions on tensors).

A twist xi = (w, u) (..., 6) holds a rotation vector w (radians, axis times angle) and a
translation part u. Its exponential is the rigid motion

    exp(xi) = [[R, V u], [0, 1]],   R = I + A [w]x + B [w]x^2,   V = I + B [w]x + C [w]x^2,
    A = sin(t) / t,  B = (1 - cos(t)) / t^2,  C = (t - sin(t)) / t^3,  t = |w|

(Rodrigues' formula; ``[w]x`` the cross-product matrix). Near t = 0 the coefficients come
from their Taylor series in t^2, so exp(0) is the identity exactly and gradients at 0 are
finite (corrections start there).
"""

from __future__ import annotations

import torch
from torch import Tensor

SMALL_ANGLE_SQ = 1e-4  # below t^2 = this the series (to t^4) is exact to double precision's 1e-18


def skew(w: Tensor) -> Tensor:
    """[w]x (..., 3, 3) of vectors w (..., 3): [w]x v = w x v."""
    x, y, z = w.unbind(-1)
    o = torch.zeros_like(x)
    return torch.stack([torch.stack([o, -z, y], -1), torch.stack([z, o, -x], -1),
                        torch.stack([-y, x, o], -1)], -2)


def _coefficients(theta_sq: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """A, B, C of the module docstring as functions of t^2 (...,): closed forms away from 0,
    their series 1 - t^2/6 + t^4/120, 1/2 - t^2/24 + t^4/720, 1/6 - t^2/120 + t^4/5040 near it
    (the closed forms see a safe t there, so neither branch's gradient is NaN)."""
    small = theta_sq < SMALL_ANGLE_SQ
    t2 = torch.where(small, torch.ones_like(theta_sq), theta_sq)
    t = t2.sqrt()
    s, c = torch.sin(t), torch.cos(t)
    a = torch.where(small, 1 - theta_sq / 6 + theta_sq ** 2 / 120, s / t)
    b = torch.where(small, 0.5 - theta_sq / 24 + theta_sq ** 2 / 720, (1 - c) / t2)
    cc = torch.where(small, 1 / 6 - theta_sq / 120 + theta_sq ** 2 / 5040, (t - s) / (t2 * t))
    return a, b, cc


def so3_exp(w: Tensor) -> Tensor:
    """Rotation matrices (..., 3, 3) of rotation vectors w (..., 3): R = I + A [w]x + B [w]x^2."""
    a, b, _ = _coefficients((w * w).sum(-1))
    k = skew(w)
    eye = torch.eye(3, dtype=w.dtype, device=w.device)
    return eye + a[..., None, None] * k + b[..., None, None] * (k @ k)


def se3_exp(xi: Tensor) -> Tensor:
    """Rigid motions (..., 4, 4) of twists xi = (w, u) (..., 6): [[R, V u], [0, 1]] (module
    docstring). exp(0) is the identity exactly."""
    w, u = xi[..., :3], xi[..., 3:]
    a, b, c = _coefficients((w * w).sum(-1))
    k = skew(w)
    k2 = k @ k
    eye = torch.eye(3, dtype=xi.dtype, device=xi.device)
    rot = eye + a[..., None, None] * k + b[..., None, None] * k2
    v = eye + b[..., None, None] * k + c[..., None, None] * k2
    out = torch.zeros(*xi.shape[:-1], 4, 4, dtype=xi.dtype, device=xi.device)
    out[..., :3, :3] = rot
    out[..., :3, 3] = (v @ u[..., None])[..., 0]
    out[..., 3, 3] = 1.0
    return out


def so3_log(rot: Tensor) -> Tensor:
    """Rotation vectors w (..., 3) of rotations (..., 3, 3) with angle < pi: the inverse of
    ``so3_exp``, w = t / (2 sin t) vee(R - R^T), t = rotation_angle(R)."""
    vee = torch.stack([rot[..., 2, 1] - rot[..., 1, 2], rot[..., 0, 2] - rot[..., 2, 0],
                       rot[..., 1, 0] - rot[..., 0, 1]], -1)
    theta = rotation_angle(rot)
    small = theta < 1e-6
    scale = torch.where(small, torch.full_like(theta, 0.5),
                        theta / (2 * torch.sin(torch.where(small, torch.ones_like(theta), theta))))
    return scale[..., None] * vee


def se3_log(motion: Tensor) -> Tensor:
    """Twists xi (..., 6) of rigid motions (..., 4, 4) with rotation angle < pi: the inverse of
    ``se3_exp``, w = so3_log(R), u = V(w)^-1 t."""
    w = so3_log(motion[..., :3, :3])
    a, b, c = _coefficients((w * w).sum(-1))
    k = skew(w)
    eye = torch.eye(3, dtype=motion.dtype, device=motion.device)
    v = eye + b[..., None, None] * k + c[..., None, None] * (k @ k)
    u = torch.linalg.solve(v, motion[..., :3, 3:])[..., 0]
    return torch.cat([w, u], -1)


def compose(a: Tensor, b: Tensor) -> Tensor:
    """a b (..., 4, 4): the motion that applies b first, then a."""
    return a @ b


def invert(motion: Tensor) -> Tensor:
    """Inverse (..., 4, 4) of rigid motions [[R, t], [0, 1]]: [[R^T, -R^T t], [0, 1]]."""
    rot_t = motion[..., :3, :3].transpose(-1, -2)
    out = torch.zeros_like(motion)
    out[..., :3, :3] = rot_t
    out[..., :3, 3] = -(rot_t @ motion[..., :3, 3:])[..., 0]
    out[..., 3, 3] = 1.0
    return out


def rotation_angle(rot: Tensor, other: Tensor | None = None) -> Tensor:
    """Angle (...,) in radians of rotations (..., 3, 3), or of the rotation between ``rot`` and
    ``other`` (R_a^T R_b): t = atan2(|vee(R - R^T)| / 2, (tr R - 1) / 2), accurate for small
    angles too (arccos of the trace alone loses them in float32)."""
    r = rot if other is None else rot.transpose(-1, -2) @ other
    vee = torch.stack([r[..., 2, 1] - r[..., 1, 2], r[..., 0, 2] - r[..., 2, 0], r[..., 1, 0] - r[..., 0, 1]], -1)
    trace = r[..., 0, 0] + r[..., 1, 1] + r[..., 2, 2]
    return torch.atan2(0.5 * vee.norm(dim=-1), 0.5 * (trace - 1))
