"""Single-file ``transforms.json`` captures: parse and validate the cameras (no images).

Written by nerfstudio's ``ns-process-data`` (from COLMAP, Polycam, Record3D, KIRI, ...) and
by instant-ngp's ``colmap2nerf.py``. One file lists every frame::

    {"camera_model": "OPENCV", "fl_x": 1100.5, "fl_y": 1101.2, "cx": 960.3, "cy": 540.8,
     "w": 1920, "h": 1080, "k1": -0.11, "k2": 0.02, "p1": 0.0003, "p2": -0.0001,
     "frames": [{"file_path": "images/frame_00001.jpg", "transform_matrix": [[...4x4...]],
                 "mask_path": "masks/frame_00001.png"}, ...]}

Intrinsics (``fl_x``, ``fl_y``, ``cx``, ``cy``, ``w``, ``h``, ``camera_angle_x``,
``camera_angle_y``, ``camera_model``, ``k1``..``k4``, ``p1``, ``p2``) may stand at the top
level or in a frame; a frame's own value wins. The focal length falls back to the field of
view (fl = 0.5 w / tan(0.5 camera_angle)), fl_y to fl_x, the principal point to the image
centre, w and h to the image's size. Poses are camera-to-world in the OpenGL convention
(camera looks down -z, +y up), as both tools write them. nerfstudio's ``applied_transform``
(what ns-process-data already applied to the poses) is checked and kept; instant-ngp's
``aabb_scale``, ``scale`` and ``offset`` are read for its normalisation; ``distortion_params``,
``orientation_override``, ``applied_scale``, ``fisheye_crop_radius`` and ``depth_file_path``
as ``capture_keys`` says; ``sharpness`` and other keys that do not change the cameras are
ignored. ``train_filenames`` / ``val_filenames`` / ``test_filenames`` name the splits.
Paths may use Windows backslashes (``.\\images\\x.png``), as instant-ngp reads them.

The same cameras saved in the Blender split layout (``transforms_train.json``, optional
``transforms_val.json``, ``transforms_test.json``, as people prepare real captures for
Blender-format code) are read the same way when a file has intrinsics beyond
``camera_angle_x``: each file's top level applies to its frames, and the files are the splits.

Every problem is a one-line ``DatasetError`` that starts with the file's path.
"""

from __future__ import annotations

import functools
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nerfspec.data import capture_keys
from nerfspec.data.capture_images import same_stem_hint
from nerfspec.data.capture_intrinsics import (DISTORTION_KEYS, INTRINSIC_KEYS, MAX_PIXELS, MODEL_COEFFICIENTS,
                                              Intrinsics, check_intrinsic_values, lens_model, number, size_hint)
from nerfspec.data.capture_layout import read_files
from nerfspec.data.frames import frame_image, frame_list, frame_pose, image_file, is_file
from nerfspec.errors import DatasetError

SPLIT_KEYS = {"train": "train_filenames", "val": "val_filenames", "test": "test_filenames"}


@dataclass(frozen=True)
class FrameSpec:
    """One frame as the file describes it; intrinsics are completed by ``intrinsics()`` once
    the image's size is known."""

    index: int  # position in the file's frames list
    name: str  # file_path as written (normalised: no leading "./")
    image_path: Path
    c2w: np.ndarray  # (4, 4) float64
    mask_path: Path | None
    values: dict[str, Any]  # the intrinsic keys that apply to this frame (frame over top level)
    own_intrinsics: bool  # the frame sets a size or focal length itself
    source: Path | None = None  # the file that lists it, when the capture has several


@dataclass(frozen=True)
class CaptureSpec:
    path: Path  # the transforms.json
    frames: list[FrameSpec]  # sorted by name
    splits: dict[str, list[int]] | None  # positions in ``frames`` per split, when the file names them
    applied_transform: np.ndarray | None  # (4, 4)
    ngp: dict[str, Any]  # aabb_scale (float or None), scale, offset (3,) in instant-ngp's axis order;
    # "given": which of the three the file states (the others are instant-ngp's defaults)
    orientation: str | None = None  # nerfstudio's orientation_override
    applied_scale: float | None = None
    notes: tuple[str, ...] = ()  # what the file holds that is read but not used


def intrinsics(spec: CaptureSpec, frame: FrameSpec, image_size: tuple[int, int] | None) -> Intrinsics:
    """Complete a frame's intrinsics; ``image_size`` (width, height) of its image (None: the
    file's w and h must be there). Raises when the focal length is missing or the file's size
    disagrees with the image's."""
    path, v, where = frame.source or spec.path, frame.values, f"frame {frame.index} ({frame.name}): "
    w, h = v.get("w"), v.get("h")
    if image_size is not None:
        if (w is not None and int(w) != image_size[0]) or (h is not None and int(h) != image_size[1]):
            raise DatasetError(f"{path}: {where}image is {image_size[0]}x{image_size[1]} but the file "
                               f"gives w x h = {w}x{h}{size_hint(image_size, w, h)}")
        w, h = image_size
    if w is None or h is None:
        raise DatasetError(f"{path}: {where}needs 'w' and 'h' (the image size)")
    w, h = int(w), int(h)
    if "fl_x" in v:
        fx = float(v["fl_x"])
    elif "camera_angle_x" in v:
        fx = 0.5 * w / math.tan(0.5 * v["camera_angle_x"])
    else:
        raise DatasetError(f"{path}: {where}no focal length: needs 'fl_x' or 'camera_angle_x' "
                           "(at the top level or in the frame)")
    if "fl_y" in v:
        fy = float(v["fl_y"])
    elif "camera_angle_y" in v:
        fy = 0.5 * h / math.tan(0.5 * v["camera_angle_y"])
    else:
        fy = fx
    model = lens_model(v)
    stray = [k for k in DISTORTION_KEYS if k not in MODEL_COEFFICIENTS[model] and v.get(k, 0.0) != 0.0]
    if stray and model != "pinhole":
        what = "is not a coefficient" if len(stray) == 1 else "are not coefficients"
        raise DatasetError(f"{path}: {where}{', '.join(stray)} {what} of {model.upper()} "
                           f"({', '.join(MODEL_COEFFICIENTS[model])})")
    if stray:  # PINHOLE with coefficients: the file contradicts itself
        raise DatasetError(f"{path}: {where}camera_model {v['camera_model']} has no distortion, "
                           f"but {', '.join(stray)} {'is' if len(stray) == 1 else 'are'} set")
    for name, value in (("focal length x", fx), ("focal length y", fy), ("cx", v.get("cx", 0.0)), ("cy", v.get("cy", 0.0))):
        if not abs(value) < MAX_PIXELS:  # beyond float32's precision for pixel maths
            raise DatasetError(f"{path}: {where}{name} {value:g} px is out of range (|value| < {MAX_PIXELS:g})")
    coeffs = tuple(float(v.get(k, 0.0)) for k in MODEL_COEFFICIENTS[model])
    if model == "opencv" and not any(coeffs):
        model, coeffs = "pinhole", ()  # an undistorted OPENCV camera is a pinhole
    return Intrinsics(fx, fy, float(v.get("cx", 0.5 * w)), float(v.get("cy", 0.5 * h)), w, h, model, coeffs)


def _matrix(path: Path, key: str, value: Any) -> np.ndarray:
    """A 3x4 or 4x4 numeric matrix as (4, 4)."""
    try:
        m = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise DatasetError(f"{path}: '{key}' must be a 3x4 or 4x4 matrix of numbers") from None
    if m.shape not in ((3, 4), (4, 4)) or not np.isfinite(m).all():
        raise DatasetError(f"{path}: '{key}' must be a 3x4 or 4x4 matrix of finite numbers, got shape {m.shape}")
    if m.shape == (3, 4):
        m = np.vstack([m, [0.0, 0.0, 0.0, 1.0]])
    return m


def normalise_name(name: str) -> str:
    """A file_path as the split lists write it: forward slashes, no leading './'."""
    name = name.replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    return name


def _ngp(path: Path, meta: dict) -> dict[str, Any]:
    out: dict[str, Any] = {"aabb_scale": None, "scale": 0.33, "offset": (0.5, 0.5, 0.5),
                           "given": tuple(k for k in ("aabb_scale", "scale", "offset") if k in meta)}
    if "aabb_scale" in meta:
        out["aabb_scale"] = number(path, "", "aabb_scale", meta["aabb_scale"], positive=True)
    if "scale" in meta:
        out["scale"] = number(path, "", "scale", meta["scale"], positive=True)
    if "offset" in meta:
        off = meta["offset"]
        if not isinstance(off, list) or len(off) != 3:
            raise DatasetError(f"{path}: 'offset' must be a list of 3 numbers, got {off!r}")
        out["offset"] = tuple(number(path, "", f"offset[{i}]", x) for i, x in enumerate(off))
    return out


def _splits(path: Path, meta: dict, frames: list[FrameSpec], skipped: set[str]) -> dict[str, list[int]] | None:
    if not any(key in meta for key in SPLIT_KEYS.values()):
        return None
    position = {f.name: k for k, f in enumerate(frames)}
    out: dict[str, list[int]] = {}
    for split, key in SPLIT_KEYS.items():
        names = meta.get(key)
        if names is None:
            continue
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise DatasetError(f"{path}: '{key}' must be a list of file names")
        picked = []
        for n in names:
            if normalise_name(n) in skipped:
                continue
            if normalise_name(n) not in position:
                raise DatasetError(f"{path}: '{key}' names {n!r}, which no frame's file_path is")
            picked.append(position[normalise_name(n)])
        out[split] = sorted(set(picked))
    if "train" not in out:
        raise DatasetError(f"{path}: names the splits ({', '.join(SPLIT_KEYS[s] for s in out)}) but has "
                           "no 'train_filenames'")
    return out


MISSING_IMAGES = ("error", "skip")


def missing_frames(frames: list[FrameSpec]) -> list[FrameSpec]:
    """The frames whose image file is not there."""
    return [f for f in frames if not is_file(f.image_path)]


@functools.lru_cache(maxsize=None)
def _warn_skipped(path: Path, missing: int, total: int, first: str) -> None:
    """Said once per capture file and process, however many splits are loaded."""
    print(f"warning: {path}: skipping {missing} of {total} frames whose images are missing "
          f"(first: {first}); data.missing_images = \"skip\"", file=sys.stderr)


def drop_missing(path: Path, frames: list[FrameSpec], missing_images: str) -> list[FrameSpec]:
    """The frames with images; frames without one are an error naming how many and the
    setting (``missing_images`` "error") or dropped with one warning (``"skip"``)."""
    if missing_images not in MISSING_IMAGES:
        raise ValueError(f"missing_images must be one of {', '.join(MISSING_IMAGES)}, got {missing_images!r}")
    missing = missing_frames(frames)
    if not missing:
        return frames
    first = f"{missing[0].image_path} (frame {missing[0].index})"
    if missing_images == "error" or len(missing) == len(frames):
        hint = ("; set data.missing_images = \"skip\" to train on the "
                f"{len(frames) - len(missing)} present ones") if len(missing) < len(frames) else ""
        raise DatasetError(f"{path}: {len(missing)} of {len(frames)} frames name image files that are "
                           f"not there (first: {first}){hint}"
                           f"{same_stem_hint(path.parent, missing[0].image_path)}")
    _warn_skipped(path, len(missing), len(frames), first)
    gone = {f.index for f in missing}
    return [f for f in frames if f.index not in gone]


def _frames(file: Path, meta: dict, root: Path, seen: dict) -> list[FrameSpec]:
    """The frames of one file, each with its intrinsic values (the frame's over the file's)."""
    top = capture_keys.expand_distortion_params(file, "", {k: meta[k] for k in INTRINSIC_KEYS if k in meta})
    capture_keys.refuse_keys(file, "", meta)
    check_intrinsic_values(file, "", top)
    frames = []
    for k, fm in enumerate(frame_list(file, meta)):
        c2w = frame_pose(file, k, fm)
        name = fm["file_path"]
        image_path = frame_image(file, root, k, name, seen)
        mask = fm.get("mask_path")
        if mask is not None and (not isinstance(mask, str) or not mask.strip()):
            raise DatasetError(f"{file}: frame {k} mask_path must be a non-empty string, got {mask!r}")
        where = f"frame {k}: "
        capture_keys.refuse_keys(file, where, fm)
        own = capture_keys.expand_distortion_params(file, where, {key: fm[key] for key in INTRINSIC_KEYS if key in fm})
        check_intrinsic_values(file, where, own)
        frames.append(FrameSpec(k, normalise_name(name), image_path, c2w,
                                image_file(root, mask) if mask is not None else None, {**top, **own},
                                any(key in own for key in ("w", "h", "fl_x", "fl_y", "camera_angle_x")), file))
    return frames


def _merge_split_files(files, root: Path) -> tuple[list[FrameSpec], dict[int, set]]:
    """The frames of every file and, by id, the splits that list each. An image listed by two
    Blender split files (val and test are often the same views) is one frame in both splits,
    when the files agree on its camera."""
    frames, origin, by_image = [], {}, {}
    for split, file, meta in files:
        for f in _frames(file, meta, root, {}):
            key = f.image_path.resolve()
            if key in by_image:
                other = by_image[key]
                if not np.allclose(other.c2w, f.c2w, atol=1e-6) or other.values != f.values:
                    raise DatasetError(f"{file}: frame {f.index} ({f.name}) is also in {other.source.name} "
                                       "with another camera; an image has one camera")
                origin[id(other)].add(split)
                continue
            by_image[key] = f
            origin[id(f)] = {split}
            frames.append(f)
    return frames, origin


def parse_capture(path: str | Path, missing_images: str = "error") -> CaptureSpec:
    """Read and validate a capture (its transforms.json, or the ``transforms_train.json`` of
    one in the Blender split layout): frames (sorted by file name) with their poses, image and
    mask paths and intrinsic values; the splits; instant-ngp's normalisation keys; the keys of
    ``capture_keys``. Frames whose image is absent: see ``drop_missing`` (``missing_images``
    error | skip); the splits then leave them out."""
    path = Path(path)
    files = read_files(path)
    root, first = path.parent, files[0][2]
    applied = _matrix(path, "applied_transform", first["applied_transform"]) if "applied_transform" in first else None
    frames, origin = _merge_split_files(files, root)
    frames.sort(key=lambda f: f.name)
    listed = {f.name for f in frames}
    frames = drop_missing(path, frames, missing_images)
    models = {lens_model(f.values) for f in frames} - {"pinhole"}
    if len(models) > 1:
        raise DatasetError(f"{path}: frames use more than one lens model ({', '.join(sorted(models))}); "
                           "a capture must use one")
    skipped = listed - {f.name for f in frames}
    if files[0][0] is None:
        splits = _splits(path, first, frames, skipped)
    else:  # the files are the splits
        splits = {s: [k for k, f in enumerate(frames) if s in origin[id(f)]] for s, _, _ in files}
    notes = capture_keys.frame_notes([fm for _, _, meta in files for fm in meta.get("frames", [])])
    return CaptureSpec(path, frames, splits, applied, _ngp(path, first), capture_keys.orientation(path, first),
                       capture_keys.applied_scale(path, first), tuple(notes))


def split_indices(spec: CaptureSpec, split: str, holdout_every: int) -> list[int]:
    """Positions in ``spec.frames`` of a split: the file's lists when it has them (val falls
    back to test), else every ``holdout_every``-th frame in file-name order (0, k, 2k, ...) is
    held out for val and test and the rest train, as published real-scene benchmarks do."""
    if spec.splits is not None:
        picked = spec.splits.get(split, spec.splits.get("test") if split == "val" else None)
        if not picked:
            raise DatasetError(f"{spec.path}: has no frames for the {split} split "
                               f"('{SPLIT_KEYS[split]}' is missing or empty)")
        return picked
    n = len(spec.frames)
    held = [k for k in range(n) if k % holdout_every == 0]
    if split == "train":
        kept = [k for k in range(n) if k % holdout_every != 0]
        if not kept:
            raise DatasetError(f"{spec.path}: {n} frame(s) leave none to train on when every "
                               f"{holdout_every}th is held out; add frames or raise data.holdout_every")
        return kept
    return held
