"""Environments that generated views see where their rays miss every object: a colour per
world direction (z up), as an environment map at infinity (white, black, sky), or the walls,
floor and ceiling of a textured room at finite distance around the objects (room), which a
direction-only background cannot represent (the unbounded test scene)."""

from __future__ import annotations

import numpy as np

ENVIRONMENTS = ("white", "black", "sky", "room")
_HORIZON = np.array([0.80, 0.86, 0.93])
_ZENITH = np.array([0.25, 0.45, 0.80])
_GROUND_NEAR = np.array([0.50, 0.45, 0.38])
_GROUND_FAR = np.array([0.22, 0.20, 0.17])


def smoothstep(lo: float, hi: float, x: np.ndarray) -> np.ndarray:
    """0 below lo, 1 above hi, 3 t^2 - 2 t^3 with t = (x - lo) / (hi - lo) between."""
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def sky(dirs: np.ndarray, eye: np.ndarray | None = None) -> np.ndarray:
    """Sky over ground, rgb (3, N) in [0, 1] of unit directions (3, N).

    With z = dirs[2], azimuth phi and elevation e = asin z: sky = horizon + (zenith - horizon)
    max(z, 0); ground = near + (far - near) max(-z, 0); blended by smoothstep(-0.1, 0.1, z); all
    times the texture 1 + 0.10 sin(3 phi) cos(2 e) + 0.06 cos(5 phi + 3 e), which is smooth
    (a few cycles per turn) so a small direction-conditioned network can learn it.
    """
    z = np.clip(dirs[2], -1.0, 1.0)
    phi = np.arctan2(dirs[1], dirs[0])
    elev = np.arcsin(z)
    up = _HORIZON[:, None] + (_ZENITH - _HORIZON)[:, None] * np.maximum(z, 0.0)
    down = _GROUND_NEAR[:, None] + (_GROUND_FAR - _GROUND_NEAR)[:, None] * np.maximum(-z, 0.0)
    t = smoothstep(-0.1, 0.1, z)
    texture = 1.0 + 0.10 * np.sin(3 * phi) * np.cos(2 * elev) + 0.06 * np.cos(5 * phi + 3 * elev)
    return np.clip((t * up + (1.0 - t) * down) * texture, 0.0, 1.0)


ROOM_HALF_WIDTH = 6.0  # walls at x, y = +-6: four times the default object box [-1.5, 1.5]
ROOM_FLOOR = -0.82  # the default scene's plinth stands on the floor
ROOM_CEILING = 5.0
_WALL_COLORS = np.array([[0.75, 0.55, 0.35], [0.35, 0.55, 0.70], [0.60, 0.70, 0.40], [0.70, 0.45, 0.55]])


def room_hit(dirs: np.ndarray, eye: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where rays from ``eye`` (3,) inside the room leave it: points (3, N) and the face hit (N,)
    (0..3 walls -x, +x, -y, +y; 4 floor; 5 ceiling).

    The room is the box [-W, W]^2 x [floor, ceiling]; along axis i the exit distance is
    t_i = (b_i - eye_i) / d_i with b_i the face the ray heads for; the ray leaves at min_i t_i.
    """
    lo = np.array([-ROOM_HALF_WIDTH, -ROOM_HALF_WIDTH, ROOM_FLOOR])
    hi = np.array([ROOM_HALF_WIDTH, ROOM_HALF_WIDTH, ROOM_CEILING])
    eye = np.asarray(eye, dtype=np.float64).reshape(3, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = np.where(dirs > 0, hi[:, None], lo[:, None])
        t = np.where(np.abs(dirs) > 1e-12, (bound - eye) / dirs, np.inf)
    axis = np.argmin(t, axis=0)
    n = np.arange(dirs.shape[1])
    points = eye + t[axis, n] * dirs
    positive = dirs[axis, n] > 0
    face = np.where(axis == 2, np.where(positive, 5, 4), 2 * axis + positive)
    return points, face


def room(dirs: np.ndarray, eye: np.ndarray | None = None) -> np.ndarray:
    """The textured room seen from ``eye`` (3,) (default the origin), rgb (3, N) of unit
    directions (3, N): a two-tone checker floor (2 cells per unit), walls of their own colour
    times 0.75 + 0.25 sin(2 pi x / 1.5) cos(2 pi z / 1.2) along the wall (a pattern a few
    cycles across, like wallpaper), a plain ceiling; each face lit by its own constant."""
    points, face = room_hit(dirs, np.zeros(3) if eye is None else eye)
    rgb = np.empty_like(points)
    floor = face == 4
    cell = (np.floor(2 * points[0]) + np.floor(2 * points[1])) % 2
    rgb[:, floor] = np.where(cell[floor] > 0, 0.85, 0.35)[None, :] * np.array([[1.0], [0.95], [0.85]])
    ceiling = face == 5
    rgb[:, ceiling] = 0.9
    wall = face < 4
    along = np.where(face < 2, points[1], points[0])
    pattern = 0.75 + 0.25 * np.sin(2 * np.pi * along / 1.5) * np.cos(2 * np.pi * points[2] / 1.2)
    light = np.array([0.8, 1.0, 0.7, 0.9])[np.minimum(face, 3)]
    rgb[:, wall] = _WALL_COLORS[face[wall]].T * (pattern * light)[wall]
    return np.clip(rgb, 0.0, 1.0)


def environment(name: str):
    """The function (dirs (3, N), eye (3,) or None) -> rgb (3, N) of an environment: white,
    black, sky (directions only) or room (also where the ray starts)."""
    if name == "sky":
        return sky
    if name == "room":
        return room
    if name not in ENVIRONMENTS:
        raise ValueError(f"environment must be one of {', '.join(ENVIRONMENTS)}, got {name!r}")
    value = 1.0 if name == "white" else 0.0
    return lambda dirs, eye=None: np.full((3, dirs.shape[1]), value)
