"""What every loader checks of a frame the same way, Blender scenes and captures alike: the list
of frames, each frame's camera-to-world pose and ``file_path``, the image file it names (Windows
separators, a missing suffix) and one image per frame. Each problem is a one-line
``DatasetError`` naming the file and the frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nerfspec.errors import DatasetError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
AUXILIARY_IMAGES = ("_depth", "_normal", "_band", "_mask")  # written beside the views, not views


def frame_list(path: Path, meta: dict) -> list:
    """``meta["frames"]``, a non-empty list."""
    frames = meta.get("frames")
    if not isinstance(frames, list) or not frames:
        raise DatasetError(f"{path}: 'frames' must be a non-empty list")
    return frames


def frame_pose(path: Path, k: int, frame: object) -> np.ndarray:
    """Frame ``k``'s ``transform_matrix`` (4, 4) float64: numeric, finite in float32 and a rigid
    camera-to-world transform (R^T R = I to 1e-3, last row 0 0 0 1); the frame must also name
    its ``file_path``."""
    if not isinstance(frame, dict) or "transform_matrix" not in frame or "file_path" not in frame:
        raise DatasetError(f"{path}: frame {k} needs 'file_path' and 'transform_matrix'")
    try:
        mat = np.asarray(frame["transform_matrix"], dtype=np.float64)
    except (TypeError, ValueError):
        raise DatasetError(f"{path}: frame {k} transform_matrix is not a numeric matrix") from None
    if mat.shape != (4, 4):
        raise DatasetError(f"{path}: frame {k} transform_matrix has shape {mat.shape}, expected (4, 4)")
    if not np.isfinite(mat.astype(np.float32)).all():
        what = "non-finite values" if not np.isfinite(mat).all() else "values too large for float32"
        raise DatasetError(f"{path}: frame {k} transform_matrix has {what}")
    rot = mat[:3, :3]
    if not np.allclose(rot.T @ rot, np.eye(3), atol=1e-3) or not np.allclose(mat[3], [0, 0, 0, 1], atol=1e-6):
        raise DatasetError(f"{path}: frame {k} transform_matrix is not a rigid camera-to-world transform")
    return mat


def is_file(p: Path) -> bool:
    """``p.is_file()``, False for a name the file system refuses (too long, say)."""
    try:
        return p.is_file()
    except OSError:
        return False


def image_file(root: Path, rel: str) -> Path:
    """``root/rel``; without a suffix the first of rel.png, rel.jpg, rel.jpeg that exists.
    Backslashes separate folders (files written on Windows, as instant-ngp reads them)."""
    p = root / rel.replace("\\", "/")
    if p.suffix.lower() in IMAGE_SUFFIXES or is_file(p) or not p.name:
        return p
    for suffix in IMAGE_SUFFIXES:
        if is_file(candidate := p.with_name(p.name + suffix)):
            return candidate
    return p.with_name(p.name + ".png")


def frame_image(path: Path, root: Path, k: int, name: object, seen: dict[Path, int]) -> Path:
    """The image file of frame ``k`` (its ``file_path`` ``name``, a non-empty string, under
    ``root``); ``seen`` (resolved image -> frame) refuses a second frame on the same image."""
    if not isinstance(name, str) or not name.strip():
        raise DatasetError(f"{path}: frame {k} file_path must be a non-empty string, got {name!r}")
    image_path = image_file(root, name)
    key = image_path.resolve()
    if key in seen:
        raise DatasetError(f"{path}: frames {seen[key]} and {k} both use {image_path.name}; "
                           "each frame needs its own image")
    seen[key] = k
    return image_path
