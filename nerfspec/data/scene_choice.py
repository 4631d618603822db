"""What a scene is, chosen from its file when the config leaves it to ``auto``: which frame a
capture is put in (``data.normalize``) and whether the scene ends at the box
(``data.scene``). Each choice comes with the reason, which the training start line prints.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def choose_normalize(requested: str, ngp: dict[str, Any]) -> tuple[str, str]:
    """(mode, why) for ``data.normalize``: a mode other than auto as asked; auto is
    ``aabb_scale`` where the file states instant-ngp's aabb_scale, scale or offset (the frame
    and box its author fitted to the scene), else ``poses`` (from the cameras alone)."""
    if requested != "auto":
        return requested, f"data.normalize = {requested!r}"
    given = ngp.get("given", ())
    if given:
        stated = ", ".join(f"{k} {_fmt(ngp[k])}" for k in ("aabb_scale", "scale", "offset") if k in given)
        return "aabb_scale", f"the file states {stated}"
    return "poses", "the file states no aabb_scale, scale or offset: centred where the cameras look"


def _fmt(value) -> str:
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(f"{v:g}" for v in value) + ")"
    return f"{value:g}"


def cameras_inside(origins: np.ndarray, aabb: list[float]) -> float:
    """Share of camera centres (N, 3) inside the box ``aabb`` = [min(3), max(3)]."""
    lo, hi = np.asarray(aabb[:3]), np.asarray(aabb[3:])
    inside = ((origins >= lo) & (origins <= hi)).all(axis=1)
    return float(inside.mean()) if len(inside) else 0.0


def choose_scene(requested: str, capture: bool, masked: int, frames: int, inside: float) -> tuple[str, str]:
    """(scene, why) for ``data.scene``: object or unbounded as asked; auto is ``object`` for a
    Blender scene (RGBA renders of an object in empty space) and for a capture whose every
    frame has a mask, and ``unbounded`` for other captures (photos: what lies beyond the box
    is part of the scene) and wherever most cameras stand inside the box."""
    if requested != "auto":
        return requested, f"data.scene = {requested!r}"
    if inside > 0.5:
        return "unbounded", f"{inside:.0%} of the cameras stand inside the box"
    if not capture:
        return "object", "a Blender scene (RGBA renders of an object)"
    if frames and masked == frames:
        return "object", "every frame has a mask"
    return "unbounded", "a capture of photos without masks"
