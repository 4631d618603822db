"""BARF's synthetic protocol as a dataset: a copy of a scene whose training poses carry noise,
with the true ones kept beside it (``poses_true.json``) to score a refinement against.

The noise is a rigid motion per training camera, in the scene frame nerfspec trains in:
BARF's se(3) noise (every twist entry ~ N(0, sigma^2), W' = W exp(xi) for world-to-camera W;
Lin et al. use sigma = 0.15 on the Blender scenes) or motions of a fixed rotation angle and
translation length in random directions. Images and the other splits are linked (or copied)
unchanged.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nerfspec.config import DataConfig
from nerfspec.data.capture import scene_transform
from nerfspec.data.capture_layout import find_capture_file
from nerfspec.data.jsonfile import read_json
from nerfspec.data.normalise import apply_to_poses
from nerfspec.data.transforms_json import parse_capture, split_indices
from nerfspec.errors import NerfspecError
from nerfspec.poses.align import align_to, pose_errors
from nerfspec.poses.correction import fixed_size_twists, noise_twists, perturb_poses
from nerfspec.poses.files import write_truth


@dataclass(frozen=True)
class Noise:
    """se(3) noise of std ``sigma`` per entry (BARF's), or, with ``rotation_deg`` or
    ``translation`` set, motions of exactly that rotation angle and translation length."""

    sigma: float = 0.15
    rotation_deg: float | None = None
    translation: float | None = None
    seed: int = 0

    def twists(self, count: int) -> torch.Tensor:
        if self.rotation_deg is None and self.translation is None:
            return noise_twists(count, self.sigma, self.seed)
        return fixed_size_twists(count, math.radians(self.rotation_deg or 0.0), self.translation or 0.0,
                                 self.seed)

    def describe(self) -> dict:
        if self.rotation_deg is None and self.translation is None:
            return {"noise": "se3", "sigma": self.sigma, "seed": self.seed}
        return {"noise": "fixed", "rotation_deg": self.rotation_deg or 0.0,
                "translation": self.translation or 0.0, "seed": self.seed}


def link_or_copy(src: str, dst: str) -> str:
    """A hard link where the file system allows one, else a copy."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


def _pose_file(src: Path) -> tuple[Path, list[int] | None, np.ndarray]:
    """(the file whose training frames get noise, positions of those frames in its 'frames'
    list (None: all), dataset -> scene frame transform)."""
    capture = find_capture_file(src)
    if capture is None or capture.name == "transforms_train.json":
        path = src / "transforms_train.json"
        transform = np.eye(4)
        if capture is not None:
            transform = scene_transform(parse_capture(capture), DataConfig(root=str(src)))
        return path, None, transform
    spec = parse_capture(capture)
    data = DataConfig(root=str(src))
    positions = [spec.frames[k].index for k in split_indices(spec, "train", data.holdout_every)]
    return capture, positions, scene_transform(spec, data)


def perturb_scene(src: str | Path, dst: str | Path, noise: Noise, force: bool = False) -> dict:
    """Copy the scene ``src`` to ``dst`` with noisy training poses and ``poses_true.json``;
    returns a summary: views, noise, and the noise's size (mean rotation in degrees, mean
    camera displacement) before and after the best similarity alignment."""
    src, dst = Path(src), Path(dst)
    if not src.is_dir():
        raise NerfspecError(f"{src}: not a scene folder")
    if dst.exists():
        if not force:
            raise NerfspecError(f"{dst}: exists; use --force to replace it")
        if not (dst / "poses_true.json").is_file():
            raise NerfspecError(f"{dst}: exists and is not a perturbed scene; --force only replaces those")
        shutil.rmtree(dst)
    if dst.resolve().is_relative_to(src.resolve()):
        raise NerfspecError(f"{dst}: must lie outside {src}")
    path, positions, transform = _pose_file(src)
    meta = read_json(path)
    frames = meta.get("frames") if isinstance(meta, dict) else None
    if not isinstance(frames, list) or not frames:
        raise NerfspecError(f"{path}: has no frames")
    picked = list(range(len(frames))) if positions is None else positions
    true_file = np.stack([np.asarray(frames[k]["transform_matrix"], dtype=np.float64) for k in picked])
    true_scene = torch.from_numpy(apply_to_poses(transform, true_file))
    noisy_scene = perturb_poses(true_scene, noise.twists(len(picked)))
    noisy_file = apply_to_poses(np.linalg.inv(transform), noisy_scene.numpy())
    shutil.copytree(src, dst, copy_function=link_or_copy)
    for k, m in zip(picked, noisy_file):
        frames[k]["transform_matrix"] = m.tolist()
    (dst / path.name).unlink()  # a link to the original: replace, never write through it
    (dst / path.name).write_text(json.dumps(meta, indent=1))
    write_truth(dst, [{"file_path": frames[k]["file_path"], "transform_matrix": t.tolist()}
                      for k, t in zip(picked, true_file)], {**noise.describe(), "file": path.name})
    raw = pose_errors(noisy_scene, true_scene).summary()
    aligned = pose_errors(align_to(noisy_scene, true_scene)[0], true_scene).summary()
    return {"views": len(picked), "file": path.name, **noise.describe(), "rotation_deg": raw["rotation_deg"],
            "centre": raw["centre"], "aligned_rotation_deg": aligned["rotation_deg"],
            "aligned_translation": aligned["translation"]}
