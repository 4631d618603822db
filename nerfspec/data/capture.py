"""Load one split of a capture (a single ``transforms.json``) in nerfspec's scene frame.

The file is parsed by ``transforms_json``, its world frame mapped to the scene frame by
``normalise`` (or by ``data.transform`` when a run has fixed it), and the split's images read
by ``capture_images``. The result carries the same images as a Blender split (uint8
(N, H, W, 4), alpha 255 where the photos have none, masks written into alpha) and per-view
cameras with their lens model.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from nerfspec.data.capture_images import load_view
from nerfspec.data.normalise import apply_to_poses, ngp_transform, poses_transform
from nerfspec.data.scene_choice import cameras_inside, choose_normalize, choose_scene
from nerfspec.data.transforms_json import (CaptureSpec, Intrinsics, find_capture_file, intrinsics, parse_capture,
                                           split_indices)
from nerfspec.errors import DatasetError
from nerfspec.lens import invertible_over_image


@dataclass
class CaptureSplit:
    """One split: images (N, H, W, 4) uint8 and per-view cameras in the scene frame."""

    images: Tensor
    poses: Tensor  # (N, 4, 4) camera-to-world, scene frame
    fx: Tensor  # (N,) pixels, at the loaded (downscaled) size
    fy: Tensor
    cx: Tensor
    cy: Tensor
    model: str  # nerfspec.lens model shared by the views
    distortion: Tensor | None  # (N, K) coefficients of ``model``; None for pinhole
    transform: Tensor  # (4, 4) float64 world (the file's frame) -> scene frame
    image_paths: list[Path]
    width: int
    height: int
    band_images: Tensor | None = None  # captures have no band images
    bands: list[dict] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def cameras(self):
        """The views' cameras (nerfspec.cameras.Cameras) with their lens model."""
        from nerfspec.cameras import Cameras

        return Cameras(self.poses, self.fx, self.fy, self.cx, self.cy, self.width, self.height,
                       self.model, self.distortion)


def scene_transform(spec: CaptureSpec, data) -> np.ndarray:
    """(4, 4) world -> scene transform: ``data.transform`` when set, else computed from every
    frame's camera (so all splits share it) by ``data.normalize``."""
    if data.transform:
        return np.asarray(data.transform, dtype=np.float64).reshape(4, 4)
    mode = choose_normalize(data.normalize, spec.ngp)[0]
    if mode == "none":
        return np.eye(4)
    if mode == "aabb_scale":
        ngp = spec.ngp
        return ngp_transform(ngp["scale"], ngp["offset"], ngp["aabb_scale"], list(data.aabb))
    return poses_transform(np.stack([f.c2w for f in spec.frames]), data.camera_distance)


def resolve_capture(root: str | Path, data) -> tuple[dict, str]:
    """The data settings a run on this capture fixes in its config (``transform``, ``normalize``,
    ``scene``; the ones already fixed kept) and one line saying which frame, box and scene
    model were chosen and why."""
    path = find_capture_file(root)
    if path is None:
        raise DatasetError(f"{root}: no transforms.json capture here")
    spec = parse_capture(path, data.missing_images)
    if data.transform:
        mode, why = data.normalize, "data.transform as given"
    else:
        mode, why = choose_normalize(data.normalize, spec.ngp)
    transform = scene_transform(spec, data)
    origins = apply_to_poses(transform, np.stack([f.c2w for f in spec.frames]))[:, :3, 3]
    masked = sum(f.mask_path is not None for f in spec.frames)
    scene, scene_why = choose_scene(data.scene, True, masked, len(spec.frames),
                                    cameras_inside(origins, list(data.aabb)))
    box = ", ".join(f"{v:g}" for v in data.aabb)
    note = f"scene frame {mode} ({why}), box [{box}]; {scene} scene ({scene_why})"
    return {"transform": [float(x) for x in transform.reshape(-1)], "normalize": mode, "scene": scene}, note


def _check_sizes(spec: CaptureSpec, frames, sizes: list[tuple[int, int]]) -> None:
    """All views must share one size (the cameras do)."""
    first = sizes[0]
    for f, size in zip(frames, sizes):
        if size != first:
            shared = "and share the top-level intrinsics" if not (f.own_intrinsics and frames[0].own_intrinsics) \
                else "(each with its own intrinsics)"
            raise DatasetError(f"{spec.path}: frames have different image sizes ({frames[0].name} is "
                               f"{first[0]}x{first[1]}, {f.name} is {size[0]}x{size[1]}) {shared}; nerfspec "
                               "needs one size per capture: resize the images or split the capture")


def _check_lens(spec: CaptureSpec, views: list[Intrinsics], names: list[str]) -> None:
    seen = set()
    for k, v in zip(names, views):
        key = (v.model, v.coeffs, v.fx, v.fy, v.cx, v.cy, v.width, v.height)
        if v.model == "pinhole" or key in seen:
            continue
        seen.add(key)
        coeffs = torch.tensor(v.coeffs, dtype=torch.float64)
        if not invertible_over_image(v.model, coeffs, v.fx, v.fy, v.cx, v.cy, v.width, v.height):
            raise DatasetError(f"{spec.path}: frame {k}: the {v.model.upper()} distortion "
                               f"({', '.join(f'{c:g}' for c in v.coeffs)}) folds over inside the "
                               f"{v.width}x{v.height} image, so some pixels have no unique ray; check the calibration")


def load_capture_split(path: str | Path, split: str, data, use_cache: bool = True) -> CaptureSplit:
    """Load ``split`` (train | val | test) of the capture file ``path`` with the data settings
    ``data`` (a DataConfig: downscale, normalize, camera_distance, transform, holdout_every,
    exif_orientation, aabb). Raises ``DatasetError`` (one line, naming the file) for malformed input."""
    if data.downscale < 1:
        raise DatasetError(f"{path}: downscale must be a positive integer, got {data.downscale}")
    spec = parse_capture(path, data.missing_images)
    transform = scene_transform(spec, data)
    frames = [spec.frames[k] for k in split_indices(spec, split, data.holdout_every)]
    notes: set[str] = set()
    images, views, sizes = [], [], []
    for f in frames:
        where = f"frame {f.index} of {spec.path.name}"
        expected = tuple(int(f.values[k]) if k in f.values else None for k in ("w", "h"))
        img, size = load_view(f.image_path, f.mask_path, expected, data.downscale, data.exif_orientation,
                              notes, where, use_cache)
        views.append(intrinsics(spec, f, size))
        images.append(img)
        sizes.append(size)
    _check_sizes(spec, frames, sizes)
    _check_lens(spec, views, [f.name for f in frames])
    notes = {n for n in notes if "alpha" not in n}  # photos have none; the capture expects that
    for note in sorted(notes):
        print(f"note: {spec.path.name} ({split}): {note}", file=sys.stderr)

    scaled = [v.scaled(data.downscale) for v in views]
    model = next((v.model for v in scaled if v.model != "pinhole"), "pinhole")
    distortion = None
    if model != "pinhole":
        width = len(next(v.coeffs for v in scaled if v.model == model))
        distortion = torch.tensor([v.coeffs if v.coeffs else (0.0,) * width for v in scaled], dtype=torch.float32)
    poses = apply_to_poses(transform, np.stack([f.c2w for f in frames]))
    col = lambda name: torch.tensor([getattr(v, name) for v in scaled], dtype=torch.float32)  # noqa: E731
    return CaptureSplit(
        images=torch.from_numpy(np.stack(images)), poses=torch.from_numpy(poses).float(),
        fx=col("fx"), fy=col("fy"), cx=col("cx"), cy=col("cy"), model=model, distortion=distortion,
        transform=torch.from_numpy(transform), image_paths=[f.image_path for f in frames],
        width=scaled[0].width, height=scaled[0].height)
