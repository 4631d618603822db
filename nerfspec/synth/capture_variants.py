"""The shapes other tools and people write one capture in, as rewrites of a plain
``transforms.json`` (a dict as ``generate`` writes it): each returns the files to write,
name -> JSON object, holding the same cameras.

* ``windows``: colmap2nerf.py run on Windows: ``file_path`` with backslashes (``.\\images\\x.png``).
* ``blender_split``: the Blender split layout people prepare for Blender-format code:
  ``transforms_train.json`` and ``transforms_test.json`` (no val file), each with the full
  intrinsics and distortion (``fl_x`` .. ``p2``) and ``camera_angle_x`` at its top level.
* ``distortion_params``: nerfstudio's per-frame ``distortion_params`` = [k1, k2, k3, k4, p1, p2]
  instead of named coefficients.
* ``simple_radial``: ``camera_model`` SIMPLE_RADIAL (k1) or RADIAL (k1, k2), as COLMAP names them.
* ``two_sizes``: frames of two image sizes, each frame with its own ``w``, ``h``, ``fl_x``,
  ``fl_y``, ``cx``, ``cy`` (rendered so by ``generate``; the file itself is plain).
"""

from __future__ import annotations

import copy
import math

VARIANTS = ("plain", "windows", "blender_split", "distortion_params", "simple_radial", "two_sizes")
SPLIT_LISTS = ("train_filenames", "val_filenames", "test_filenames")
RADTAN_ORDER = ("k1", "k2", "k3", "k4", "p1", "p2")  # nerfstudio's distortion_params order


def second_size(size: int) -> int:
    """The other image size of a ``two_sizes`` capture: 3/4 of ``size`` (at least 8)."""
    return max(8, (3 * size) // 4)


def _windows(meta: dict) -> dict[str, dict]:
    back = lambda name: ".\\" + name.replace("/", "\\")  # noqa: E731
    for frame in meta["frames"]:
        frame["file_path"] = back(frame["file_path"])
    for key in SPLIT_LISTS:
        meta[key] = [back(n) for n in meta.get(key, [])]
    return {"transforms.json": meta}


def _blender_split(meta: dict) -> dict[str, dict]:
    top = {k: v for k, v in meta.items() if k != "frames" and k not in SPLIT_LISTS}
    if "fl_x" in top and "w" in top:
        top["camera_angle_x"] = 2.0 * math.atan(0.5 * top["w"] / top["fl_x"])
    by_name = {f["file_path"]: f for f in meta["frames"]}
    return {f"transforms_{split}.json": {**top, "frames": [by_name[n] for n in meta[f"{split}_filenames"]]}
            for split in ("train", "test")}


def _distortion_params(meta: dict) -> dict[str, dict]:
    coeffs = [float(meta.pop(k, 0.0)) for k in RADTAN_ORDER]
    for frame in meta["frames"]:
        frame["distortion_params"] = list(coeffs)
    return {"transforms.json": meta}


def _simple_radial(meta: dict) -> dict[str, dict]:
    if any(meta.get(k, 0.0) for k in ("k3", "k4", "p1", "p2")) or meta.get("camera_model") not in ("OPENCV", "PINHOLE"):
        raise ValueError("SIMPLE_RADIAL / RADIAL cameras have only k1 and k2: give --distortion=K1,K2,0,0")
    for k in ("k3", "k4", "p1", "p2"):
        meta.pop(k, None)
    meta["camera_model"] = "RADIAL" if meta.get("k2", 0.0) else "SIMPLE_RADIAL"
    return {"transforms.json": meta}


def rewrite(meta: dict, variant: str) -> dict[str, dict]:
    """The files (name -> object) that write ``meta`` (a plain capture, not modified) in the
    shape ``variant``; ValueError for an unknown variant or a lens it cannot hold."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
    meta = copy.deepcopy(meta)
    if variant in ("plain", "two_sizes"):
        return {"transforms.json": meta}
    return {"windows": _windows, "blender_split": _blender_split, "distortion_params": _distortion_params,
            "simple_radial": _simple_radial}[variant](meta)
