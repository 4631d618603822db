"""Pose files: the true poses kept beside a perturbed scene (``poses_true.json``) and a run's
refined training cameras (``RUN/poses.json``), both in the dataset's own frame and convention
(camera-to-world, OpenGL axes: x right, y up, looking down -z; a capture's world frame as its
file has it, before nerfspec's scene normalisation).

Frames are matched to a split's views by image file (its path without the image suffix, so
Blender's ``./train/r_0`` names ``train/r_0.png``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from nerfspec.data.capture_layout import find_capture_file, split_file_folder
from nerfspec.data.jsonfile import read_json
from nerfspec.data.normalise import apply_to_poses
from nerfspec.errors import DatasetError

TRUTH_NAME = "poses_true.json"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
CONVENTION = ("camera-to-world 4x4, OpenGL camera axes (x right, y up, looking down -z), in the "
              "dataset's own world frame")


def scene_folder(root: str | Path) -> Path:
    """The folder of a data root (a scene folder, a capture's .json file or a split file)."""
    root = Path(root)
    if split_file_folder(root) is not None or root.suffix.lower() == ".json":
        return root.parent
    return root


def frame_key(path: str | Path) -> str:
    """How a frame is matched: its resolved path, without an image suffix."""
    p = Path(path).resolve()
    return (p.parent / p.stem).as_posix() if p.suffix.lower() in IMAGE_SUFFIXES else p.as_posix()


def scene_transform_of(data) -> np.ndarray:
    """(4, 4) dataset frame -> scene frame of a run's data settings: ``data.transform`` for a
    capture (resolved when the run started), the identity for a Blender scene."""
    if find_capture_file(data.root) is not None and data.transform:
        return np.asarray(data.transform, dtype=np.float64).reshape(4, 4)
    return np.eye(4)


def write_truth(folder: Path, frames: list[dict], about: dict) -> Path:
    """``folder/poses_true.json``: ``frames`` [{"file_path", "transform_matrix"}] plus ``about``
    (how the scene beside it was perturbed)."""
    path = Path(folder) / TRUTH_NAME
    path.write_text(json.dumps({"convention": CONVENTION, **about, "frames": frames}, indent=1))
    return path


def true_poses(data, image_paths: list[Path]) -> Tensor | None:
    """The true camera-to-world poses (N, 4, 4), in the scene frame of ``data`` (a DataConfig),
    of the views whose images are ``image_paths``, from ``poses_true.json`` beside the scene;
    None where the scene has no such file. A view the file does not list is an error."""
    folder = scene_folder(data.root)
    path = folder / TRUTH_NAME
    if not path.is_file():
        return None
    meta = read_json(path)
    try:
        table = {frame_key(folder / f["file_path"].replace("\\", "/")): np.asarray(f["transform_matrix"], dtype=np.float64)
                 for f in meta["frames"]}
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise DatasetError(f"{path}: frames must each have file_path and a 4x4 transform_matrix ({exc})") from None
    missing = [p for p in image_paths if frame_key(p) not in table]
    if missing:
        raise DatasetError(f"{path}: lists no true pose for {Path(missing[0]).name} "
                           f"({len(missing)} view(s) without one)")
    poses = np.stack([table[frame_key(p)] for p in image_paths])
    if poses.shape[1:] != (4, 4):
        raise DatasetError(f"{path}: transform_matrix must be 4x4")
    return torch.from_numpy(apply_to_poses(scene_transform_of(data), poses))


def relative_name(path: Path, folder: Path) -> str:
    """``path`` relative to ``folder`` (posix), or as it is where it lies elsewhere."""
    try:
        return Path(path).resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return Path(path).as_posix()


def poses_document(data, image_paths: list[Path], refined: Tensor, twists: Tensor,
                   camera_angle_x: float | None = None) -> dict:
    """What ``RUN/poses.json`` holds: every training view's refined camera-to-world pose in
    the dataset's frame (``refined`` (N, 4, 4) are in the scene frame) and the learned
    correction (w, u) that moved it there (``nerfspec.poses.correction``)."""
    folder = scene_folder(data.root)
    to_scene = scene_transform_of(data)
    in_file = apply_to_poses(np.linalg.inv(to_scene), refined.detach().double().cpu().numpy())
    doc: dict = {"convention": CONVENTION,
                 "correction": "twist (w, u) per view: rotation vector w (radians) and translation u of "
                               "the rigid motion that corrected it, about the scene centre in the scene frame "
                               "(train.pose_frame = scene) or in the camera's own frame (camera)"}
    if camera_angle_x is not None:
        doc["camera_angle_x"] = camera_angle_x
    doc["frames"] = [{"file_path": relative_name(p, folder), "transform_matrix": m.tolist(),
                      "correction": [float(x) for x in t]}
                     for p, m, t in zip(image_paths, in_file, twists.detach().cpu().tolist())]
    return doc
