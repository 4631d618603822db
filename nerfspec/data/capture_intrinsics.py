"""A capture's intrinsics as its files state them: the keys that may carry them, their type and
range checks, the lens model they name, and ``Intrinsics``, one view's completed camera
(``transforms_json.intrinsics`` completes a frame's from its image's size). Every problem is a
one-line ``DatasetError`` starting with the file's path."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nerfspec.data.capture_layout import CAPTURE_INTRINSICS
from nerfspec.errors import DatasetError

# camera_model values of nerfstudio / COLMAP -> nerfspec.lens model names
# (SIMPLE_RADIAL and RADIAL are perspective cameras with k1, k2, as nerfstudio reads them)
CAMERA_MODELS = {"PINHOLE": "pinhole", "SIMPLE_PINHOLE": "pinhole", "OPENCV": "opencv",
                 "SIMPLE_RADIAL": "opencv", "RADIAL": "opencv", "OPENCV_FISHEYE": "opencv_fisheye"}
INTRINSIC_KEYS = ("camera_angle_x", "camera_angle_y", *CAPTURE_INTRINSICS)
DISTORTION_KEYS = ("k1", "k2", "k3", "k4", "p1", "p2")
# which distortion keys each model reads, in the order nerfspec.lens takes them
MODEL_COEFFICIENTS = {"pinhole": (), "opencv": ("k1", "k2", "p1", "p2", "k3"),
                      "opencv_fisheye": ("k1", "k2", "k3", "k4")}
MAX_PIXELS = 1e9  # largest focal length or principal point taken, in pixels


@dataclass(frozen=True)
class Intrinsics:
    """One view's pinhole intrinsics in pixels (pixel (i, j) centred at (i + 0.5, j + 0.5)),
    its lens model (a nerfspec.lens name) and that model's coefficients."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    model: str = "pinhole"
    coeffs: tuple[float, ...] = ()

    def scaled(self, factor: int) -> "Intrinsics":
        """The intrinsics of the image box-filtered by an integer ``factor`` (remainder cropped):
        pixel coordinates divide by the factor, the lens coefficients stay."""
        return Intrinsics(self.fx / factor, self.fy / factor, self.cx / factor, self.cy / factor,
                          self.width // factor, self.height // factor, self.model, self.coeffs)


def number(path: Path, where: str, key: str, value: Any, positive: bool = False) -> float:
    """``value`` of ``key`` (``where`` in ``path``: "" or "frame k: ") as a finite float (> 0 with ``positive``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DatasetError(f"{path}: {where}'{key}' must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise DatasetError(f"{path}: {where}'{key}' must be > 0, got {value!r}")
    return float(value)


def _size(path: Path, where: str, key: str, value: Any) -> int:
    v = number(path, where, key, value, positive=True)
    if v != int(v) or v > 1 << 20:
        raise DatasetError(f"{path}: {where}'{key}' must be a whole number of pixels, got {value!r}")
    return int(v)


def _angle(path: Path, where: str, key: str, value: Any) -> float:
    v = number(path, where, key, value)
    if not 0 < v < math.pi:
        raise DatasetError(f"{path}: {where}'{key}' must be an angle in (0, pi) radians, got {value!r}")
    return v


def check_intrinsic_values(path: Path, where: str, values: dict) -> None:
    """Type and range checks of whatever intrinsic keys are present (raises on the first bad one)."""
    for key in ("fl_x", "fl_y"):
        if key in values:
            number(path, where, key, values[key], positive=True)
    for key in ("cx", "cy", *DISTORTION_KEYS):
        if key in values:
            number(path, where, key, values[key])
    for key in ("w", "h"):
        if key in values:
            _size(path, where, key, values[key])
    for key in ("camera_angle_x", "camera_angle_y"):
        if key in values:
            _angle(path, where, key, values[key])
    if "camera_model" in values:
        model = values["camera_model"]
        if not isinstance(model, str) or model.upper() not in CAMERA_MODELS:
            known = ", ".join(CAMERA_MODELS)
            raise DatasetError(f"{path}: {where}camera_model {model!r} is not supported (supported: {known})")
    if "is_fisheye" in values and not isinstance(values["is_fisheye"], bool):
        raise DatasetError(f"{path}: {where}'is_fisheye' must be true or false, got {values['is_fisheye']!r}")


def lens_model(values: dict) -> str:
    """The nerfspec.lens model of a frame's (checked) values: ``camera_model`` when given, else
    instant-ngp's ``is_fisheye``, else opencv when any radial-tangential coefficient is set."""
    if "camera_model" in values:
        return CAMERA_MODELS[values["camera_model"].upper()]
    if values.get("is_fisheye"):
        return "opencv_fisheye"
    return "opencv" if any(values.get(k, 0.0) for k in ("k1", "k2", "k3", "p1", "p2")) else "pinhole"


def size_hint(image_size: tuple[int, int], w: Any, h: Any) -> str:
    """What an image of ``image_size`` (width, height) that is not the file's w x h probably is:
    an integer downscaled or upscaled copy, or the image turned on its side."""
    if w is None or h is None:
        return ""
    iw, ih = image_size
    w, h = int(w), int(h)
    for n in range(2, 17):
        if w // n == iw and h // n == ih:  # ns-process-data rounds down (images_2, images_4, images_8)
            return (f": the image is 1/{n} of that size (a downscaled copy such as images_{n}/); point file_path "
                    f"at the full-size images and set data.downscale={n} to train at this size")
        if iw // n == w and ih // n == h:
            return (f": the image is {n} times that size; the file describes a 1/{n} copy, so point file_path "
                    f"at the downscaled images")
    if (iw, ih) == (h, w):
        return ": the image is turned on its side (see data.exif_orientation)"
    return ""
