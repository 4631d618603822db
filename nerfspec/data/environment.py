"""Environments that generated views see where their rays miss every object: a colour per
world direction (z up), as an environment map at infinity."""

from __future__ import annotations

import numpy as np

ENVIRONMENTS = ("white", "black", "sky")
_HORIZON = np.array([0.80, 0.86, 0.93])
_ZENITH = np.array([0.25, 0.45, 0.80])
_GROUND_NEAR = np.array([0.50, 0.45, 0.38])
_GROUND_FAR = np.array([0.22, 0.20, 0.17])


def smoothstep(lo: float, hi: float, x: np.ndarray) -> np.ndarray:
    """0 below lo, 1 above hi, 3 t^2 - 2 t^3 with t = (x - lo) / (hi - lo) between."""
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def sky(dirs: np.ndarray) -> np.ndarray:
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


def environment(name: str):
    """The function dirs (3, N) -> rgb (3, N) of an environment: white, black or sky."""
    if name == "sky":
        return sky
    if name not in ENVIRONMENTS:
        raise ValueError(f"environment must be one of {', '.join(ENVIRONMENTS)}, got {name!r}")
    value = 1.0 if name == "white" else 0.0
    return lambda dirs: np.full((3, dirs.shape[1]), value)
