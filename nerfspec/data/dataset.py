"""One entry point for a scene on disk, whatever its layout: a Blender scene
(``transforms_{train,val,test}.json``) or a capture (a single ``transforms.json``, detected by
the file)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from nerfspec.data.blender import load_blender_split
from nerfspec.data.capture import load_capture_split, resolve_capture
from nerfspec.data.capture_layout import find_capture_file, split_file_folder
from nerfspec.data.capture_report import report_lines
from nerfspec.data.scene_choice import choose_scene
from nerfspec.data.transforms_json import parse_capture


def is_capture(root) -> bool:
    """True when ``root`` is a capture: a folder with transforms.json and no
    transforms_train.json, or such a .json file itself."""
    return find_capture_file(root) is not None


def load_split(data, split: str):
    """Split ``split`` of ``data.root`` (``data``: a DataConfig): a ``BlenderSplit`` or a
    ``CaptureSplit``; both carry ``images`` (N, H, W, 4) uint8 and ``cameras``."""
    path = find_capture_file(data.root)
    if path is not None:
        return load_capture_split(path, split, data)
    return load_blender_split(split_file_folder(data.root) or data.root, split, data.downscale)


def resolve_scene(cfg):
    """(``cfg`` with its scene fixed, one line saying what was chosen and why). For a capture:
    ``data.transform`` (computed from the file when it is empty), ``data.normalize`` and
    ``data.scene`` resolved from auto, so that the run's saved config puts eval, render and
    mesh in the same frame and scene model; for a Blender scene only ``data.scene``."""
    if is_capture(cfg.data.root):
        fixed, note = resolve_capture(cfg.data.root, cfg.data)
    else:
        scene, why = choose_scene(cfg.data.scene, False, 0, 0, 0.0)
        box = ", ".join(f"{v:g}" for v in cfg.data.aabb)
        fixed, note = {"scene": scene}, f"scene frame as stored, box [{box}]; {scene} scene ({why})"
    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, **fixed)), note


def resolve_data(cfg):
    """``cfg`` with its scene fixed (``resolve_scene`` without the line)."""
    return resolve_scene(cfg)[0]


def describe_dataset(given) -> Iterator[str]:
    """check-data's lines for the dataset of ``given`` (a Config): one per split (each split
    loaded as training loads it, so its notes come in turn) and, for a capture, the world ->
    scene transform and ``capture_report``'s lines."""
    root = given.data.root
    cfg = resolve_data(given)
    for split in ("train", "val", "test"):
        yield describe_split(split, load_split(cfg.data, split))
    if is_capture(root):
        rows = [cfg.data.transform[4 * r:4 * r + 4] for r in range(3)]
        yield ("world -> scene: " + "; ".join(" ".join(f"{v if abs(v) > 5e-5 else 0.0:.4f}" for v in row) for row in rows)
               + f" (data.normalize = {cfg.data.normalize})")
        yield from report_lines(parse_capture(find_capture_file(root)), cfg.data, bool(given.data.transform))


def describe_split(name: str, split) -> str:
    """One line about a loaded split: views, image size (smallest..largest when views differ),
    focal length range, lens model and coefficients (how many different ones when views
    differ)."""
    cams = split.cameras
    lo, hi = float(cams.fx.min()), float(cams.fx.max())
    focal = f"fx {lo:.2f} px" if hi - lo < 1e-6 else f"fx {lo:.2f}..{hi:.2f} px"
    size = f"{split.width}x{split.height}"
    if cams.sizes is not None:
        by_area = sorted({tuple(s) for s in cams.sizes.tolist()}, key=lambda s: (s[0] * s[1], s))
        size = f"{by_area[0][0]}x{by_area[0][1]}..{by_area[-1][0]}x{by_area[-1][1]}"
    lens = cams.model
    if cams.distortion is not None:
        lens = f"{cams.model} ({', '.join(f'{c:g}' for c in cams.distortion[0].tolist())})"
        distinct = len({tuple(row) for row in cams.distortion.tolist()})
        if distinct > 1:
            lens = f"{cams.model}, {distinct} different coefficient sets (first {lens[len(cams.model) + 1:]})"
    return f"{name}: {len(split)} view{'s' if len(split) != 1 else ''}, {size}, {focal}, {lens}"
