"""A capture's images: EXIF orientation, masks written into alpha, and cached downscaling.

Phone photos often store their pixels sideways with an EXIF ``Orientation`` tag saying how to
turn them for display. COLMAP, nerfstudio and instant-ngp read the stored pixels, so poses and
intrinsics usually describe those; a photo turned by another tool before reconstruction
describes the displayed ones. ``exif_orientation = "auto"`` picks whichever of the two has the
size (w, h) the capture file gives, and refuses (naming the setting) when both or neither fit;
``"ignore"`` and ``"apply"`` force one.

Downscaled images are cached as PNG under the user's cache folder (``$XDG_CACHE_HOME`` or
``~/.cache``, then ``nerfspec/images``), keyed by the source files' paths, sizes and
modification times and by the factor, so an edited photo is re-read; the input is never written.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import imageio.v3 as iio
import numpy as np

from nerfspec.data.blender import _read_image, downscale_rgba
from nerfspec.data.frames import IMAGE_SUFFIXES
from nerfspec.errors import DatasetError

ORIENTATION_MODES = ("auto", "apply", "ignore")
ORIENTATIONS = {1: "upright", 2: "mirrored left-right", 3: "turned 180 degrees", 4: "mirrored top-bottom",
                5: "transposed", 6: "turned 90 degrees clockwise", 7: "transversed",
                8: "turned 90 degrees counter-clockwise"}
CACHE_VERSION = 1  # bump when what is cached changes


def apply_orientation(img: np.ndarray, orientation: int) -> np.ndarray:
    """The stored image (H, W, C) as displayed under EXIF ``orientation`` (1..8):
    2 flips columns, 3 turns 180 degrees, 4 flips rows, 5 transposes, 6 turns 90 degrees
    clockwise, 7 transposes across the anti-diagonal, 8 turns 90 degrees counter-clockwise."""
    ops = {
        1: lambda a: a,
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.transpose(1, 0, 2),
        6: lambda a: np.rot90(a, k=-1),
        7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
        8: lambda a: np.rot90(a, k=1),
    }
    return np.ascontiguousarray(ops[orientation](img))


def exif_orientation(path: Path) -> int:
    """The EXIF Orientation tag of an image file (1 when absent or unreadable)."""
    try:
        value = iio.immeta(path, exclude_applied=False).get("Orientation", 1)
    except Exception:  # a corrupt file is reported when it is read
        return 1
    return int(value) if isinstance(value, int) and value in ORIENTATIONS else 1


def choose_orientation(path: Path, orientation: int, stored_size: tuple[int, int],
                       expected: tuple[int | None, int | None], mode: str) -> int:
    """The orientation to apply (1: none) to an image stored at (width, height) ``stored_size``
    whose capture file says ``expected`` (w, h; None where it does not say)."""
    if orientation == 1 or mode == "ignore":
        return 1
    if mode == "apply":
        return orientation
    w, h = stored_size
    shown = (h, w) if orientation >= 5 else (w, h)
    fits = lambda size: all(e is None or e == s for e, s in zip(expected, size))  # noqa: E731
    if fits(stored_size) != fits(shown):
        return 1 if fits(stored_size) else orientation
    why = "fit both the stored and the displayed image" if fits(shown) else "fit neither the stored nor the displayed image"
    raise DatasetError(f"{path}: EXIF orientation {orientation} ({ORIENTATIONS[orientation]}) is ambiguous: "
                       f"the capture's w x h ({expected[0]}x{expected[1]}) {why}; set data.exif_orientation "
                       "to \"ignore\" if the poses were computed on the stored pixels (COLMAP, ns-process-data, "
                       "colmap2nerf.py read them so) or \"apply\" if on the image as displayed")


def read_mask(path: Path, size: tuple[int, int], where: str) -> np.ndarray:
    """A mask image as (H, W) uint8 (0: not part of the scene, 255: part of it); its size must
    be ``size`` (width, height) of its view's image. Colour masks use their first channel."""
    mask = _read_image(path, set(), where)
    if mask.shape[1::-1] != tuple(size):
        raise DatasetError(f"{path}: mask is {mask.shape[1]}x{mask.shape[0]} but its image is "
                           f"{size[0]}x{size[1]} ({where})")
    return mask[..., 0]


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "nerfspec" / "images"


def cache_key(sources: list[Path | None], *settings: object) -> str:
    """sha256 of the sources' resolved paths, sizes and modification times, and ``settings``."""
    h = hashlib.sha256(f"v{CACHE_VERSION}".encode())
    for p in sources:
        if p is None:
            h.update(b"-")
            continue
        st = p.stat()
        h.update(f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    h.update(repr(settings).encode())
    return h.hexdigest()


def _read_cached(path: Path) -> np.ndarray | None:
    try:
        img = np.asarray(iio.imread(path))
    except Exception:  # missing, or a partial file from a crash: rebuild it
        return None
    return img if img.ndim == 3 and img.shape[2] == 4 and img.dtype == np.uint8 else None


def _write_cached(path: Path, img: np.ndarray) -> None:
    """Write atomically; a cache that cannot be written is skipped (the image is still used)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".png")
        os.close(fd)
        try:
            iio.imwrite(tmp, img, extension=".png")
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError:
        pass


MAX_SEARCHED = 20000  # files looked at for a hint about a missing image


def same_stem_hint(root: Path, missing: Path) -> str:
    """``"; <file> has that name: ..."`` naming an image under ``root`` with the stem of the
    ``missing`` one (paths written on the author's machine, ``.jpeg`` for ``.png``), else ""."""
    stem, seen = missing.stem.lower(), 0
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            seen += 1
            if seen > MAX_SEARCHED:
                return ""
            candidate = Path(folder) / name
            if candidate.suffix.lower() in IMAGE_SUFFIXES and candidate.stem.lower() == stem:
                rel = candidate.relative_to(root).as_posix()
                return (f"; the capture folder has {rel}: write file paths relative to the folder of "
                        f"the capture file, with the names the files have")
    return ""


def load_view(image_path: Path, mask_path: Path | None, expected: tuple[int | None, int | None],
              downscale: int, orientation_mode: str, notes: set[str], where: str,
              use_cache: bool = True, root: Path | None = None) -> tuple[np.ndarray, tuple[int, int]]:
    """One view as (H', W', 4) uint8 (straight colour; alpha = the image's alpha times the
    mask, 255 where neither has one) at 1/``downscale`` of its size, and its full-size
    (width, height) as the capture file must describe it. A missing image's message names a
    file of the same stem under ``root`` (the capture's folder) when there is one."""
    for p in (image_path, mask_path):
        if p is not None and root is not None and not p.exists():
            kind = "image" if p is image_path else "mask"
            raise DatasetError(f"{p}: {kind} file not found ({where}){same_stem_hint(root, p)}")
    key = None
    if use_cache and downscale > 1:
        try:
            key = cache_root() / (cache_key([image_path, mask_path], downscale, orientation_mode, expected) + ".png")
        except OSError:  # a missing source: reported below when it is read
            key = None
        cached = _read_cached(key) if key is not None else None
        if cached is not None:  # only whole multiples of the factor are cached
            return cached, (cached.shape[1] * downscale, cached.shape[0] * downscale)
    img = _read_image(image_path, notes, where)
    orientation = choose_orientation(image_path, exif_orientation(image_path), (img.shape[1], img.shape[0]),
                                     expected, orientation_mode)
    if orientation != 1:
        notes.add(f"EXIF orientation applied ({ORIENTATIONS[orientation]}, e.g. {image_path.name})")
        img = apply_orientation(img, orientation)
    size = (img.shape[1], img.shape[0])
    if mask_path is not None:
        mask = read_mask(mask_path, size, where)
        img = img.copy()
        img[..., 3] = (img[..., 3].astype(np.uint16) * mask // 255).astype(np.uint8)
    if size[0] // downscale < 1 or size[1] // downscale < 1:
        raise DatasetError(f"{image_path}: downscale {downscale} leaves no pixels of {size[0]}x{size[1]}")
    small = downscale_rgba(img, downscale)
    if size[0] % downscale or size[1] % downscale:
        notes.add(f"images of {size[0]}x{size[1]} are not a multiple of data.downscale = {downscale}: the last "
                  f"{size[0] % downscale} column(s) and {size[1] % downscale} row(s) are cropped, and the "
                  "downscaled copies are not cached (read again each time)")
    if key is not None and size[0] % downscale == 0 and size[1] % downscale == 0:
        _write_cached(key, small)  # the full size is then the cached size times the factor
    return small, size
