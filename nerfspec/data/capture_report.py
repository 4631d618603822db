"""What ``check-data`` says about a capture beyond its splits: which frames carry masks, which
images in the capture's folders the file does not list, and whether instant-ngp's
``aabb_scale`` is used by the chosen scene frame."""

from __future__ import annotations

from pathlib import Path

from nerfspec.data.capture_layout import split_file_folder
from nerfspec.data.frames import AUXILIARY_IMAGES, IMAGE_SUFFIXES
from nerfspec.data.scene_choice import choose_normalize
from nerfspec.data.transforms_json import CaptureSpec


def mask_line(spec: CaptureSpec) -> str:
    masked = sum(f.mask_path is not None for f in spec.frames)
    if not masked:
        return "masks: none"
    return (f"masks: {masked} of {len(spec.frames)} frames have a mask_path, multiplied into alpha "
            "(0: not the scene, trained against the background)")


def unlisted_images(spec: CaptureSpec) -> dict[Path, tuple[int, list[Path]]]:
    """Per folder that holds a listed image: (how many images it holds, those the file does
    not list), depth / normal / mask images aside; only folders with unlisted ones."""
    listed = {f.image_path.resolve() for f in spec.frames}
    out = {}
    for folder in sorted({f.image_path.parent for f in spec.frames}):
        if not folder.is_dir():
            continue
        images = [p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
                  and not any(tag in p.stem for tag in AUXILIARY_IMAGES)]
        extra = [p for p in images if p.resolve() not in listed]
        if extra:
            out[folder] = (len(images), extra)
    return out


def unlisted_lines(spec: CaptureSpec) -> list[str]:
    root = spec.path.parent
    files = spec.path.name if split_file_folder(spec.path) is None else "transforms_{train,val,test}.json"
    lines = []
    for folder, (total, extra) in unlisted_images(spec).items():
        rel = lambda p: p.relative_to(root).as_posix() if p.is_relative_to(root) else str(p)  # noqa: E731
        lines.append(f"unlisted: {len(extra)} of {total} images in {rel(folder)}/ are not in {files} "
                     f"and are not used (e.g. {rel(extra[0])})")
    return lines


def aabb_line(spec: CaptureSpec, normalize: str, transform_fixed: bool) -> str | None:
    """Whether the file's aabb_scale shapes the scene frame (None when it has none)."""
    scale = spec.ngp["aabb_scale"]
    if scale is None:
        return None
    if transform_fixed:
        return f"aabb_scale {scale:g}: not used (data.transform fixes the frame)"
    mode, why = choose_normalize(normalize, spec.ngp)
    if mode == "aabb_scale":
        how = "data.normalize = aabb_scale" if normalize == "aabb_scale" else f"data.normalize = auto: {why}"
        return f"aabb_scale {scale:g}: used ({how} puts instant-ngp's box on data.aabb)"
    return (f"aabb_scale {scale:g}: not used by data.normalize = {mode}; "
            "set data.normalize = \"aabb_scale\" to use instant-ngp's box")


def report_lines(spec: CaptureSpec, data, transform_fixed: bool) -> list[str]:
    """check-data's lines about the capture ``spec`` under the data settings ``data``."""
    aabb = aabb_line(spec, data.normalize, transform_fixed)
    return [mask_line(spec), *unlisted_lines(spec), *([aabb] if aabb else [])]
