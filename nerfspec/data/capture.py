"""Load one split of a capture (a single ``transforms.json``) in nerfspec's scene frame.

The file is parsed by ``transforms_json``, its world frame mapped to the scene frame by
``normalise`` (or by ``data.transform`` when a run has fixed it), and the split's images read
by ``capture_images``. The result carries the same images as a Blender split (uint8
(N, H, W, 4), alpha 255 where the photos have none, masks written into alpha) and per-view
cameras with their lens model. Views of different sizes (nerfstudio and instant-ngp take them)
are stored top-left in images of the largest size, with each view's own size in ``sizes``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from nerfspec.data.capture_images import load_view
from nerfspec.data.capture_layout import find_capture_file
from nerfspec.data.normalise import apply_to_poses, ngp_transform, poses_transform
from nerfspec.data.scene_choice import cameras_inside, choose_normalize, choose_scene
from nerfspec.data.capture_intrinsics import Intrinsics
from nerfspec.data.transforms_json import CaptureSpec, intrinsics, parse_capture, split_indices
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
    width: int  # the largest view's, when views differ in size
    height: int
    band_images: Tensor | None = None  # captures have no band images
    bands: list[dict] = field(default_factory=list)
    sizes: Tensor | None = None  # (N, 2) int64 (width, height) of each view, when they differ
    notes: list[str] = field(default_factory=list)  # what loading it said

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def image(self, k: int) -> Tensor:
        """View ``k``'s image (H_k, W_k, 4) uint8, at its own size."""
        if self.sizes is None:
            return self.images[k]
        w, h = self.sizes[k].tolist()
        return self.images[k, :h, :w]

    @property
    def cameras(self):
        """The views' cameras (nerfspec.cameras.Cameras) with their lens model."""
        from nerfspec.cameras import Cameras

        return Cameras(self.poses, self.fx, self.fy, self.cx, self.cy, self.width, self.height,
                       self.model, self.distortion, self.sizes)


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
    return poses_transform(np.stack([f.c2w for f in spec.frames]), data.camera_distance, spec.orientation)


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


def _check_shared_centre(spec: CaptureSpec, frames, views: list[Intrinsics]) -> None:
    """Views of different sizes cannot share a principal point given once for the file: its
    cx, cy are the centre of one size only (a cropped or resized image, most likely)."""
    first = views[0]
    for f, v in zip(frames, views):
        if (v.width, v.height) != (first.width, first.height) and not f.own_intrinsics and (
                "cx" in f.values or "cy" in f.values):
            raise DatasetError(f"{spec.path}: frames have different image sizes ({frames[0].name} is "
                               f"{first.width}x{first.height}, {f.name} is {v.width}x{v.height}) and share the "
                               "top-level cx, cy; give each frame its own w, h, fl_x, fl_y, cx, cy (as "
                               "nerfstudio writes per-camera intrinsics), or resize the images")


def _stack(images: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
    """Views (H_k, W_k, 4) as one (N, H, W, 4) array of the largest size (each top-left, zeros
    around it) and their (width, height) (N, 2), or None when all share one size."""
    sizes = np.array([(img.shape[1], img.shape[0]) for img in images], dtype=np.int64)
    if (sizes == sizes[0]).all():
        return np.stack(images), None
    w, h = sizes.max(axis=0)
    out = np.zeros((len(images), h, w, 4), dtype=np.uint8)
    for k, img in enumerate(images):
        out[k, :img.shape[0], :img.shape[1]] = img
    return out, sizes


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
    images, views = [], []
    for f in frames:
        where = f"frame {f.index} of {spec.path.name}"
        expected = tuple(int(f.values[k]) if k in f.values else None for k in ("w", "h"))
        img, size = load_view(f.image_path, f.mask_path, expected, data.downscale, data.exif_orientation,
                              notes, where, use_cache, spec.path.parent)
        views.append(intrinsics(spec, f, size))
        images.append(img)
    _check_shared_centre(spec, frames, views)
    _check_lens(spec, views, [f.name for f in frames])
    notes = {n for n in notes if "alpha" not in n} | set(spec.notes)  # photos have no alpha; that is expected
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
    stacked, sizes = _stack(images)
    return CaptureSplit(
        images=torch.from_numpy(stacked), poses=torch.from_numpy(poses).float(),
        fx=col("fx"), fy=col("fy"), cx=col("cx"), cy=col("cy"), model=model, distortion=distortion,
        transform=torch.from_numpy(transform), image_paths=[f.image_path for f in frames],
        width=int(stacked.shape[2]), height=int(stacked.shape[1]),
        sizes=None if sizes is None else torch.from_numpy(sizes), notes=sorted(notes))
