"""Pictures of a report: ground truth on the eval background, per-pixel error heatmaps, PNG bytes."""

from __future__ import annotations

import io

import imageio.v3 as iio
import numpy as np
import torch

ERROR_VMAX = 0.25  # heatmap scale: mean absolute error per pixel, 0 .. ERROR_VMAX (clipped)


def to_rgb_uint8(img: np.ndarray) -> np.ndarray:
    """(H, W, 3 | 4) or (H, W) uint8 -> (H, W, 3) uint8 (alpha dropped, grey repeated)."""
    img = np.asarray(img)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=-1)
    return np.ascontiguousarray(img[..., :3]).astype(np.uint8)


def composite_uint8(rgba: np.ndarray, background: tuple[float, float, float]) -> np.ndarray:
    """Straight RGBA (H, W, 4) uint8 on a background colour in [0, 1]^3 -> (H, W, 3) uint8:
    round(255 (rgb a + bg (1 - a))), the eval target the renders are scored against."""
    x = rgba.astype(np.float32) / 255.0
    alpha = x[..., 3:4]
    rgb = x[..., :3] * alpha + np.asarray(background, np.float32) * (1.0 - alpha)
    return (np.clip(rgb, 0, 1) * 255.0 + 0.5).astype(np.uint8)


def error_map(render: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Mean absolute error over the colour channels, (H, W) float32 in [0, 1]:
    e = mean_c |render_c - target_c| / 255 for uint8 (H, W, 3) images of one size."""
    if render.shape[:2] != target.shape[:2]:
        raise ValueError(f"render {render.shape[:2]} and ground truth {target.shape[:2]} differ in size")
    diff = np.abs(render[..., :3].astype(np.float32) - target[..., :3].astype(np.float32))
    return diff.mean(axis=-1) / 255.0


def heatmap(err: np.ndarray, vmax: float = ERROR_VMAX) -> np.ndarray:
    """Turbo colours of err / vmax (clipped to [0, 1]): (H, W) -> (H, W, 3) uint8; 0 is dark blue."""
    from nerfspec.export.video import turbo

    rgb = turbo(torch.from_numpy(np.asarray(err, np.float32) / vmax)).numpy()
    return (rgb * 255.0 + 0.5).astype(np.uint8)


def colorbar(width: int = 256, height: int = 12) -> np.ndarray:
    """The heatmap's scale as a horizontal bar (height, width, 3), 0 on the left, vmax on the right."""
    ramp = np.linspace(0.0, ERROR_VMAX, width, dtype=np.float32)
    return np.repeat(heatmap(ramp)[None], height, axis=0)


def png_bytes(img: np.ndarray) -> bytes:
    """uint8 (H, W, 3) -> PNG file bytes."""
    buf = io.BytesIO()
    iio.imwrite(buf, np.ascontiguousarray(img), extension=".png")
    return buf.getvalue()


def read_png_rgb(path) -> np.ndarray:
    return to_rgb_uint8(iio.imread(path))
