"""Scene normalisation of real captures: a similarity transform from the file's world frame to
nerfspec's scene frame, computed from the cameras alone.

A capture's world frame is whatever COLMAP chose: any origin, any scale, any up. nerfspec's
fields, samplers and camera paths expect the Blender layout: what the cameras look at near the
origin, +z up, cameras a few units away, the region of interest inside ``data.aabb``. The
transform is p_scene = s R (p - c) (a 4x4 ``T`` with T[:3, :3] = s R, T[:3, 3] = -s R c); a
camera-to-world pose maps to R_pose' = R R_pose, t' = s R (t - c), so poses stay rigid.

Modes:
* ``poses``: c = the point nearest to every camera's optical axis (where an inward-facing
  capture looks), R turns the cameras' vertical to +z, s makes the cameras' mean distance from
  c equal to ``camera_distance`` (4 in the Blender scenes, whose objects fill [-1.5, 1.5]^3).
  nerfstudio's auto-orientation and centring with colmap2nerf.py's scale (mean distance 4).
* ``aabb_scale``: instant-ngp's own mapping p_ngp = scale p + offset (its defaults 0.33 and
  0.5, in its cyclic axis order (y, z, x)), whose box is the cube of side ``aabb_scale`` around
  (0.5, 0.5, 0.5); that box is placed on the centre of ``data.aabb`` and scaled to its
  shortest side. The axes are kept (+z up as in the file).
* ``none``: the identity.
"""

from __future__ import annotations

import math

import numpy as np

from nerfspec.synth.raycast import rotation_z_to

MODES = ("poses", "aabb_scale", "none")


def similarity(scale: float, rotation: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """(4, 4) T with T p = s R (p - c): T[:3, :3] = s R, T[:3, 3] = -s R c."""
    t = np.eye(4)
    t[:3, :3] = scale * rotation
    t[:3, 3] = -scale * rotation @ np.asarray(centre, dtype=np.float64)
    return t


def transform_scale(transform: np.ndarray) -> float:
    """s of a similarity T = [s R, t]: the cube root of det(T[:3, :3])."""
    return float(np.cbrt(np.linalg.det(np.asarray(transform, dtype=np.float64)[:3, :3])))


def apply_to_poses(transform: np.ndarray, c2w: np.ndarray) -> np.ndarray:
    """Camera-to-world poses (N, 4, 4) in the transformed frame: R' = T[:3, :3] R / s,
    t' = T[:3, :3] t + T[:3, 3] (rigid again)."""
    t = np.asarray(transform, dtype=np.float64)
    s = transform_scale(t)
    out = np.array(c2w, dtype=np.float64, copy=True)
    out[:, :3, :3] = t[:3, :3] @ out[:, :3, :3] / s
    out[:, :3, 3] = out[:, :3, 3] @ t[:3, :3].T + t[:3, 3]
    return out


def apply_to_points(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    """T p for points (N, 3)."""
    t = np.asarray(transform, dtype=np.float64)
    return np.asarray(points, dtype=np.float64) @ t[:3, :3].T + t[:3, 3]


def focus_point(c2w: np.ndarray) -> np.ndarray | None:
    """The point nearest (least squares) to every camera's optical axis, (3,), or None when the
    axes are near parallel (forward-facing captures) or the point lies behind most cameras.

    With origins o_k and unit viewing directions d_k = -R_k[:, 2]:
    p = (sum_k (I - d_k d_k^T))^-1 sum_k (I - d_k d_k^T) o_k.
    """
    origins = c2w[:, :3, 3]
    dirs = -c2w[:, :3, 2] / np.linalg.norm(c2w[:, :3, 2], axis=1, keepdims=True)
    proj = np.eye(3)[None] - dirs[:, :, None] * dirs[:, None, :]
    a = proj.sum(axis=0)
    b = (proj @ origins[:, :, None]).sum(axis=0)[:, 0]
    eig = np.linalg.eigvalsh(a)
    if eig[0] < 1e-3 * eig[-1]:
        return None
    p = np.linalg.solve(a, b)
    in_front = np.einsum("nk,nk->n", p[None] - origins, dirs) > 0
    return p if in_front.mean() > 0.5 else None


def vertical(c2w: np.ndarray) -> np.ndarray:
    """The cameras' up direction, (3,) unit.

    Cameras held without roll have horizontal x axes (their right vectors), so the vertical is
    the direction most nearly perpendicular to all of them: the right singular vector of the
    stacked x axes with the smallest singular value, signed to agree with the mean camera up
    (the y axes). When the x axes span too little to tell (all cameras facing one way, or the
    smallest two singular values alike, as with rolled handheld frames) the mean up is used.
    """
    xs = c2w[:, :3, 0]
    mean_up = c2w[:, :3, 1].mean(axis=0)
    mean_up = mean_up / max(np.linalg.norm(mean_up), 1e-12)
    _, sv, vt = np.linalg.svd(xs, full_matrices=False)
    n = xs.shape[0]
    if n >= 3 and sv[1] > 0.17 * math.sqrt(n) and sv[2] < 0.5 * sv[1]:
        up = vt[2]
        return up if up @ mean_up >= 0 else -up
    return mean_up


def rotation_to_z(up: np.ndarray) -> np.ndarray:
    """The smallest rotation R (3, 3) with R up = +z: the inverse of the one taking +z to up."""
    return rotation_z_to(up).T


def up_direction(c2w: np.ndarray, orientation: str | None) -> np.ndarray | None:
    """The world direction the scene frame's +z follows, (3,) unit, under nerfstudio's
    orientation method ``orientation``: None or "vertical": ``vertical``; "up": the cameras'
    mean up (their y axes); "none": None (the file's axes are kept)."""
    if orientation == "none":
        return None
    if orientation == "up":
        mean_up = c2w[:, :3, 1].mean(axis=0)
        return mean_up / max(np.linalg.norm(mean_up), 1e-12)
    return vertical(c2w)


def poses_transform(c2w: np.ndarray, camera_distance: float, orientation: str | None = None) -> np.ndarray:
    """``poses`` mode (see the module docstring): centre at the focus point (the cameras' mean
    position where there is none), +z along ``up_direction`` (the file's axes when
    ``orientation`` is "none"), mean camera distance ``camera_distance``."""
    origins = c2w[:, :3, 3]
    centre = focus_point(c2w)
    if centre is None:
        centre = origins.mean(axis=0)
    dist = float(np.linalg.norm(origins - centre, axis=1).mean())
    scale = camera_distance / dist if dist > 1e-12 else 1.0
    up = up_direction(c2w, orientation)
    return similarity(scale, np.eye(3) if up is None else rotation_to_z(up), centre)


def ngp_transform(scale: float, offset: tuple[float, float, float], aabb_scale: float | None,
                  aabb: list[float]) -> np.ndarray:
    """``aabb_scale`` mode: instant-ngp's p_ngp = scale p + offset (offset in its axis order
    (y, z, x), i.e. offset[2], offset[0], offset[1] on x, y, z), then its box, side aabb_scale
    (1 when absent) around 0.5, onto ``aabb``: p = centre(aabb) + k (p_ngp - 0.5) with
    k = shortest side of aabb / aabb_scale."""
    lo, hi = np.asarray(aabb[:3], dtype=np.float64), np.asarray(aabb[3:], dtype=np.float64)
    k = float((hi - lo).min()) / (aabb_scale or 1.0)
    off = np.array([offset[2], offset[0], offset[1]], dtype=np.float64)
    t = np.eye(4)
    t[:3, :3] *= k * scale
    t[:3, 3] = 0.5 * (lo + hi) + k * (off - 0.5)
    return t
