"""Blender synthetic format: ``transforms_{split}.json`` + RGBA PNGs, validated on load.

Every problem is a ``DatasetError`` whose one-line message names the file and what is wrong.
Images are kept as uint8 (N, H, W, 4) with straight (not premultiplied) colour.
"""

from __future__ import annotations

import json
import math
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import torch
from torch import Tensor

from nerfspec.cameras import Cameras, focal_from_fov
from nerfspec.data.frames import (AUXILIARY_IMAGES, IMAGE_SUFFIXES, frame_image, frame_list, frame_pose, image_file,
                                  is_file)
from nerfspec.data.jsonfile import read_json
from nerfspec.errors import DatasetError

SPLITS = ("train", "val", "test")


@dataclass
class BlenderSplit:
    """One split of a scene: images (N, H, W, 4) uint8, camera-to-world poses (N, 4, 4)."""

    images: Tensor
    poses: Tensor
    focal: float
    camera_angle_x: float
    image_paths: list[Path]
    band_images: Tensor | None = None  # (N, H, W) uint8 band index + 1 (0: none), if present
    bands: list[dict] = field(default_factory=list)

    @property
    def height(self) -> int:
        return int(self.images.shape[1])

    @property
    def cameras(self) -> Cameras:
        """The views' cameras: centred pinholes with focal length ``focal``."""
        return Cameras.pinhole(self.poses, self.width, self.height, self.focal)

    @property
    def width(self) -> int:
        return int(self.images.shape[2])

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def image(self, k: int) -> Tensor:
        """View ``k``'s image (H, W, 4) uint8 (every view of a Blender scene has one size)."""
        return self.images[k]


def composite(rgba: Tensor, background: Tensor) -> Tensor:
    """rgb * a + bg * (1 - a) for float rgba (..., 4) in [0, 1] and bg broadcastable to (..., 3)."""
    alpha = rgba[..., 3:4]
    return rgba[..., :3] * alpha + background * (1.0 - alpha)


def _read_json(path: Path) -> dict:
    meta = read_json(path)
    if not isinstance(meta, dict):
        raise DatasetError(f"{path}: top level must be an object with 'camera_angle_x' and 'frames'")
    return meta


def _listed_images(root: Path) -> set[Path]:
    """Every image file named by any ``transforms_*.json`` under ``root`` (unreadable ones skipped)."""
    listed: set[Path] = set()
    for json_path in root.glob("transforms_*.json"):
        try:
            frames = json.loads(json_path.read_bytes().decode("utf-8-sig")).get("frames", [])
            for frame in frames:
                for key in ("file_path", "band_path"):
                    if isinstance(frame.get(key), str):
                        listed.add(image_file(root, frame[key]).resolve())
        except Exception:  # reported when that split itself is loaded
            continue
    return listed


def _unlisted_images(root: Path, image_paths: list[Path]) -> list[Path]:
    """Images beside this split's views that no transforms file lists (views probably missing
    from the JSON); depth, normal, band and mask images are not counted."""
    listed = _listed_images(root)
    found = []
    for folder in sorted({p.parent for p in image_paths}):
        for f in sorted(folder.iterdir()):
            if (f.suffix.lower() in IMAGE_SUFFIXES and f.is_file() and f.resolve() not in listed
                    and not any(tag in f.stem for tag in AUXILIARY_IMAGES)):
                found.append(f)
    return found


def to_rgba8(img: np.ndarray, path: Path, notes: set[str]) -> np.ndarray:
    """Any readable image -> (H, W, 4) uint8; 16-bit is scaled, gray/RGB get an opaque alpha."""
    if img.dtype == np.uint16:
        notes.add("16-bit images scaled to 8 bits")
        img = (img.astype(np.uint32) // 257).astype(np.uint8)
    elif img.dtype == np.bool_:  # 1-bit images
        img = img.astype(np.uint8) * 255
    elif img.dtype in (np.float16, np.float32, np.float64):
        img = np.clip(np.round(np.nan_to_num(img.astype(np.float64)) * 255.0), 0, 255).astype(np.uint8)
    elif img.dtype != np.uint8:
        raise DatasetError(f"{path}: unsupported pixel type {img.dtype}")
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3 or img.shape[2] not in (1, 2, 3, 4):
        raise DatasetError(f"{path}: unsupported image shape {img.shape}")
    c = img.shape[2]
    if c in (1, 2):
        notes.add("grayscale images expanded to RGB")
        gray = np.repeat(img[..., :1], 3, axis=2)
        img = np.concatenate([gray, img[..., 1:]], axis=2) if c == 2 else gray
    if img.shape[2] == 3:
        kind = "JPEG images have no alpha" if path.suffix.lower() in (".jpg", ".jpeg") else "images without alpha"
        notes.add(f"{kind}: taken as fully opaque (the object covers every pixel)")
        img = np.concatenate([img, np.full(img.shape[:2] + (1,), 255, np.uint8)], axis=2)
    return img


def _read_image(path: Path, notes: set[str], where: str = "") -> np.ndarray:
    """An image file -> (H, W, 4) uint8; ``where`` (e.g. "frame 3 of transforms_train.json")
    is added to the message when the file is missing."""
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise DatasetError(f"{path}: image file not found" + (f" ({where})" if where else "")) from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot access image file ({exc.strerror or exc})") from None
    if stat.S_ISDIR(mode):
        raise DatasetError(f"{path}: is a folder, not an image file")
    try:
        img = iio.imread(path)
    except Exception as exc:  # imageio raises many types for corrupt files
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DatasetError(f"{path}: cannot read image ({reason})") from None
    return to_rgba8(np.asarray(img), path, notes)


def _read_band_image(path: Path, size: tuple[int, int]) -> np.ndarray:
    """A per-pixel band-index image (H, W) uint8 matching its view's size."""
    if not is_file(path):
        raise DatasetError(f"{path}: band image file not found")
    try:
        band = np.asarray(iio.imread(path))
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DatasetError(f"{path}: cannot read band image ({reason})") from None
    if band.ndim != 2 or band.shape != tuple(size) or band.dtype != np.uint8:
        raise DatasetError(f"{path}: band image must be {size[1]}x{size[0]} 8-bit single-channel, "
                           f"got shape {band.shape} {band.dtype}")
    return band


def downscale_rgba(img: np.ndarray, factor: int) -> np.ndarray:
    """Box-filter an (H, W, 4) uint8 image by an integer factor (cropping the remainder).

    Colour is averaged premultiplied by alpha, so transparent pixels do not darken edges.
    """
    if factor == 1:
        return img
    h, w = img.shape[0] // factor, img.shape[1] // factor
    x = img[: h * factor, : w * factor].astype(np.float32) / 255.0
    x = x.reshape(h, factor, w, factor, 4)
    alpha = x[..., 3:4]
    premult = (x[..., :3] * alpha).mean(axis=(1, 3))
    a = alpha.mean(axis=(1, 3))
    rgb = np.where(a > 0, premult / np.maximum(a, 1e-8), 0.0)
    out = np.concatenate([rgb, a], axis=-1)
    return np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8)


def load_blender_split(root: str | Path, split: str, downscale: int = 1) -> BlenderSplit:
    """Load ``root/transforms_{split}.json`` and its images.

    Focal length comes from the stored image width and ``camera_angle_x``, then is divided by
    ``downscale``. Raises ``DatasetError`` (one line, naming the file) for malformed input.
    """
    root = Path(root)
    if root.is_file():
        raise DatasetError(f"{root}: is a file; give the scene's folder (with transforms_train.json) "
                           "or a capture's transforms.json")
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset folder not found")
    if downscale < 1:
        raise DatasetError(f"{root}: downscale must be a positive integer, got {downscale}")
    path = root / f"transforms_{split}.json"
    notes: set[str] = set()
    if split == "val" and not path.is_file() and (root / "transforms_test.json").is_file():
        notes.add("no transforms_val.json: the test views validate")
        path = root / "transforms_test.json"
    meta = _read_json(path)
    fov = meta.get("camera_angle_x")
    if isinstance(fov, bool) or not isinstance(fov, (int, float)) or not (0 < fov < math.pi):
        raise DatasetError(f"{path}: 'camera_angle_x' must be a number in (0, pi), got {fov!r}")
    frames = frame_list(path, meta)

    bands = meta.get("bands", [])
    if not isinstance(bands, list) or not all(isinstance(b, dict) for b in bands):
        raise DatasetError(f"{path}: 'bands' must be a list of objects, got {type(bands).__name__}")

    poses, images, paths, bands_img = [], [], [], []
    seen: dict[Path, int] = {}
    full_size = None
    for k, frame in enumerate(frames):
        poses.append(frame_pose(path, k, frame))
        img_path = frame_image(path, root, k, frame["file_path"], seen)
        img = _read_image(img_path, notes, f"frame {k} of {path.name}")
        if full_size is None:
            full_size = img.shape[:2]
        elif img.shape[:2] != full_size:
            raise DatasetError(
                f"{img_path}: image is {img.shape[1]}x{img.shape[0]}, "
                f"but earlier images in {path.name} are {full_size[1]}x{full_size[0]}")
        images.append(downscale_rgba(img, downscale))
        paths.append(img_path)
        if isinstance(frame.get("band_path"), str):
            band = _read_band_image(image_file(root, frame["band_path"]), img.shape[:2])
            bands_img.append(band[::downscale, ::downscale][: images[-1].shape[0], : images[-1].shape[1]])
    if full_size[0] // downscale < 1 or full_size[1] // downscale < 1:
        raise DatasetError(f"{path}: downscale {downscale} leaves no pixels of {full_size[1]}x{full_size[0]}")
    unlisted = _unlisted_images(root, paths)
    if unlisted:
        notes.add(f"{len(unlisted)} image(s) beside the views are not listed in any transforms_*.json "
                  f"and are ignored (e.g. {unlisted[0].relative_to(root)})")
    for note in sorted(notes):
        print(f"note: {root.name}/{split}: {note}", file=sys.stderr)

    focal = focal_from_fov(full_size[1], float(fov)) / downscale
    band_images = None
    if bands_img and len(bands_img) == len(images):
        band_images = torch.from_numpy(np.stack(bands_img).astype(np.uint8))
    return BlenderSplit(
        images=torch.from_numpy(np.stack(images)),
        poses=torch.from_numpy(np.stack(poses)).float(),
        focal=focal,
        camera_angle_x=float(fov),
        image_paths=paths,
        band_images=band_images,
        bands=list(bands),
    )
