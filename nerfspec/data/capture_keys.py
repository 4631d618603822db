"""Keys of a capture file beyond the pinhole intrinsics, read the way nerfstudio reads them:
each one that changes the cameras is used or refused by name, never dropped without a word.

* ``distortion_params`` (a frame's or the file's): nerfstudio's [k1, k2, k3, k4, p1, p2],
  read as those named coefficients (a named coefficient beside it must agree).
* ``orientation_override``: nerfstudio's orientation method for this capture (Polycam writes
  "none"); nerfspec's ``poses`` frame follows it ("none": the file's axes, "up": the cameras'
  mean up, "vertical": the direction perpendicular to their right vectors, its own default).
* ``applied_scale``: the scale ns-process-data already applied to the poses (checked and kept,
  like ``applied_transform``; the cameras are as the file gives them).
* ``fisheye_crop_radius``: refused (nerfspec does not crop images to a circle).
* ``depth_file_path``: depth maps are not used; said in a note.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from nerfspec.errors import DatasetError

DISTORTION_PARAMS = ("k1", "k2", "k3", "k4", "p1", "p2")  # nerfstudio's order
ORIENTATIONS = ("none", "up", "vertical")
REFUSED = {"fisheye_crop_radius": "nerfspec does not crop images to a circle; mask the pixels outside it "
                                  "with mask_path images (0 = not the scene) and remove the key"}


def _finite(path: Path, where: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DatasetError(f"{path}: {where}'{key}' must be a finite number, got {value!r}")
    return float(value)


def expand_distortion_params(path: Path, where: str, values: dict) -> dict:
    """``values`` (one level of the file: its top level or a frame) with ``distortion_params``
    replaced by the named coefficients k1, k2, k3, k4, p1, p2."""
    if "distortion_params" not in values:
        return values
    params = values["distortion_params"]
    if not isinstance(params, list) or len(params) != len(DISTORTION_PARAMS):
        raise DatasetError(f"{path}: {where}'distortion_params' must be a list of 6 numbers "
                           f"[k1, k2, k3, k4, p1, p2], got {params!r}")
    named = {k: _finite(path, where, f"distortion_params[{i}]", v)
             for i, (k, v) in enumerate(zip(DISTORTION_PARAMS, params))}
    for k, v in named.items():
        if k in values and values[k] != v:
            raise DatasetError(f"{path}: {where}'{k}' = {values[k]!r} disagrees with distortion_params "
                               f"({k} = {v!r}); give one of them")
    out = {k: v for k, v in values.items() if k != "distortion_params"}
    out.update(named)
    return out


def refuse_keys(path: Path, where: str, values: dict) -> None:
    """A DatasetError naming the first key nerfspec cannot honour."""
    for key, why in REFUSED.items():
        if key in values:
            raise DatasetError(f"{path}: {where}'{key}' is not supported: {why}")


def orientation(path: Path, meta: dict) -> str | None:
    """The file's ``orientation_override`` (None when it has none)."""
    if "orientation_override" not in meta:
        return None
    value = meta["orientation_override"]
    if value not in ORIENTATIONS:
        hint = ("; remove the key to let nerfspec find the vertical from the cameras" if value == "pca" else "")
        raise DatasetError(f"{path}: 'orientation_override' {value!r} is not supported "
                           f"(supported: {', '.join(ORIENTATIONS)}){hint}")
    return value


def applied_scale(path: Path, meta: dict) -> float | None:
    if "applied_scale" not in meta:
        return None
    value = _finite(path, "", "applied_scale", meta["applied_scale"])
    if value <= 0:
        raise DatasetError(f"{path}: 'applied_scale' must be > 0, got {value!r}")
    return value


def frame_notes(frames_meta: list) -> list[str]:
    """What the file says that nerfspec reads but does not use (one note each)."""
    depth = sum(1 for f in frames_meta if isinstance(f, dict) and "depth_file_path" in f)
    return [f"{depth} frame(s) name depth maps (depth_file_path); nerfspec trains on colour only "
            "and does not read them"] if depth else []
