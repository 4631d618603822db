"""Which files hold a capture: one ``transforms.json`` (or any .json named as the data root),
or the Blender split files ``transforms_{train,val,test}.json`` of a real capture saved in that
layout, told from a Blender scene by intrinsics beyond ``camera_angle_x``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nerfspec.data.blender import SPLITS
from nerfspec.data.jsonfile import read_json
from nerfspec.errors import DatasetError

FILE_NAME = "transforms.json"
# the intrinsic keys of a capture file; a Blender scene has camera_angle_x (and _y) alone
CAPTURE_INTRINSICS = ("fl_x", "fl_y", "cx", "cy", "w", "h", "camera_model", "is_fisheye",
                      "k1", "k2", "k3", "k4", "p1", "p2", "distortion_params")


def split_file_folder(root: str | Path) -> Path | None:
    """The folder of ``root`` when it names a Blender split file ``transforms_<split>.json``."""
    root = Path(root)
    return root.parent if root.name.lower() in {f"transforms_{s}.json" for s in SPLITS} else None


def has_capture_intrinsics(meta: Any) -> bool:
    """A Blender-layout file that describes its cameras beyond ``camera_angle_x`` (at the top
    level or in a frame): a real capture saved in that layout."""
    if not isinstance(meta, dict):
        return False
    frames = meta.get("frames") if isinstance(meta.get("frames"), list) else []
    return any(k in level for level in (meta, *(f for f in frames if isinstance(f, dict)))
               for k in CAPTURE_INTRINSICS)


def find_capture_file(root: str | Path) -> Path | None:
    """The capture file of a data root: ``root`` itself when it is a .json file other than a
    Blender ``transforms_<split>.json`` (whose folder is the data root); a folder's
    ``transforms.json`` when it has no ``transforms_train.json``; a folder's
    ``transforms_train.json`` when that file has capture intrinsics (``has_capture_intrinsics``).
    None for a Blender scene or nothing."""
    root = Path(root)
    if root.suffix.lower() == ".json" and split_file_folder(root) is None:
        return root
    folder = split_file_folder(root) or root
    train = folder / "transforms_train.json"
    if train.is_file():
        try:
            return train if has_capture_intrinsics(read_json(train)) else None
        except DatasetError:  # reported when the Blender loader reads it
            return None
    if (folder / FILE_NAME).is_file():
        return folder / FILE_NAME
    return None


def read_files(path: Path) -> list[tuple[str | None, Path, dict]]:
    """(split or None, file, object) of each file the capture is written in: the one file, or
    the Blender split files of ``path``'s folder (transforms_val.json optional)."""
    folder = split_file_folder(path)
    files = [(None, path)] if folder is None else [
        (s, folder / f"transforms_{s}.json") for s in SPLITS if s == "train" or (folder / f"transforms_{s}.json").is_file()]
    out = []
    for split, file in files:
        meta = read_json(file)
        if not isinstance(meta, dict):
            raise DatasetError(f"{file}: top level must be an object with 'frames'")
        out.append((split, file, meta))
    return out
