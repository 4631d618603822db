"""Video export: render a camera path of a trained run to MP4 (H.264) and optionally GIF.

Panels: ``rgb`` (on the run's eval background), ``depth`` (turbo colour map of the expected
depth, normalised by the near/far distances of the scene box over the whole path, blended
onto the background by opacity) and ``opacity`` (grey). ``side`` puts the panels of one frame
side by side in one video; ``separate`` writes one video per panel.
"""

from __future__ import annotations

import dataclasses
import math
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import imageio.v2 as iio2
import imageio.v3 as iio
import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from nerfspec.cameras import Cameras, orbit_path, spiral_path
from nerfspec.config import DataConfig
from nerfspec.errors import NerfspecError
from nerfspec.evaluate import to_uint8
from nerfspec.export.smooth_path import interpolate_path
from nerfspec.fields.appearance import nearest_views
from nerfspec.render.renderer import render_image, warm_up
from nerfspec.models import LoadedRun
from nerfspec.render.background import background_colour, eval_background
from nerfspec.run_layout import video_dir

PATHS = ("orbit", "spiral", "test", "interpolate")
OUTPUTS = ("rgb", "depth", "opacity")
LAYOUTS = ("side", "separate")

# Turbo colour map (A. Mikhailov, Google, 2019): the degree-5 polynomial fit per channel
# published with it as a GLSL approximation (R. Du).
_TURBO = torch.tensor([
    [0.13572138, 4.61539260, -42.66032258, 132.13108234, -152.94239396, 59.28637943],
    [0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604],
    [0.10667330, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973],
])


def turbo(x: Tensor) -> Tensor:
    """Turbo colour map: x (...) in [0, 1] (clamped) -> rgb (..., 3) in [0, 1].

    c(x) = sum_k a_k x^k, k = 0..5, per channel (the published polynomial fit): dark blue at 0,
    green-yellow in the middle, dark red at 1.
    """
    x = x.float().clamp(0, 1)
    powers = torch.stack([x ** k for k in range(6)], dim=-1)  # (..., 6)
    return (powers @ _TURBO.T).clamp(0, 1)


def depth_panel(depth: Tensor, opacity: Tensor, near: float, far: float, background: Tensor) -> Tensor:
    """Colour-mapped depth (H, W, 3): turbo((d / a - near) / (far - near)) a + bg (1 - a).

    ``depth`` (H, W) is the opacity-weighted expected distance sum_i w_i t_i (0 where empty),
    so d / a is the mean distance of the visible matter; a = opacity (H, W).
    """
    a = opacity.clamp(0, 1)
    d = depth / a.clamp(min=1e-6)
    rgb = turbo((d - near) / max(far - near, 1e-6))
    return rgb * a[..., None] + background.reshape(1, 1, 3) * (1 - a[..., None])


def grey_panel(opacity: Tensor) -> Tensor:
    """Opacity (H, W) in [0, 1] as a grey image (H, W, 3)."""
    return opacity.clamp(0, 1)[..., None].expand(*opacity.shape, 3)


def box_near_far(eyes: Tensor, aabb: Tensor) -> tuple[float, float]:
    """Depth range of the box seen from cameras at eyes (N, 3): near = min_n max(0, |e_n - c| - r),
    far = max_n |e_n - c| + r, with c the box centre and r its half-diagonal."""
    centre = 0.5 * (aabb[:3] + aabb[3:])
    r = float(0.5 * (aabb[3:] - aabb[:3]).norm())
    dist = (eyes - centre).norm(dim=-1)
    return max(0.0, float(dist.min()) - r), float(dist.max()) + r


def orbit_defaults(poses: Tensor, centre: Tensor | None = None) -> tuple[float, float]:
    """(mean camera distance from ``centre`` (default the origin), mean elevation in degrees)
    of poses (N, 4, 4); elevation = asin(z / |t|) of each camera position t relative to it."""
    t = poses[:, :3, 3].double() - (0.0 if centre is None else centre.double())
    dist = t.norm(dim=-1)
    elev = torch.rad2deg(torch.asin((t[:, 2] / dist.clamp(min=1e-12)).clamp(-1, 1)))
    return float(dist.mean()), float(elev.mean())


def path_focal(cameras, width: int) -> float:
    """Focal length (pixels) of a camera path rendered ``width`` pixels wide with the training
    views' mean field of view: mean_k(fx_k / W_k) * width, W_k each view's own width."""
    if cameras.sizes is None:
        return float(cameras.fx.mean()) * width / cameras.width
    return float((cameras.fx / cameras.sizes[:, 0].to(cameras.fx)).mean()) * width


def parse_resolution(text: str) -> tuple[int, int]:
    """'WxH' -> (W, H), each a positive integer."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", str(text))
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        raise NerfspecError(f"resolution must be WxH with positive integers, e.g. 400x300, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def parse_outputs(text: str) -> list[str]:
    """'rgb,depth' -> ['rgb', 'depth'] (each one of rgb, depth, opacity; no repeats)."""
    items = [s.strip() for s in str(text).split(",") if s.strip()]
    bad = [s for s in items if s not in OUTPUTS]
    if not items or bad or len(set(items)) != len(items):
        raise NerfspecError(f"outputs must be a comma-separated subset of {','.join(OUTPUTS)}, got {text!r}")
    return items


def camera_path(kind: str, frames: int, radius: float, elevation_deg: float,
                test_poses: Tensor | None = None, centre: Tensor | None = None,
                train_poses: Tensor | None = None, smoothing: float = 2.0) -> Tensor:
    """(F, 4, 4) poses: ``orbit`` (one full turn about the vertical through ``centre``, default
    the origin), ``spiral`` (two turns, elevation +-15 deg), ``test`` (the given test poses, in
    order; ``frames`` is ignored) or ``interpolate`` (a path through ``train_poses`` in their
    order, Gaussian-smoothed over ``smoothing`` cameras, evenly spaced)."""
    if kind == "test":
        if test_poses is None or len(test_poses) == 0:
            raise NerfspecError("the test path needs the scene's test poses")
        return test_poses.float()
    if frames < 1:
        raise NerfspecError(f"frames must be >= 1, got {frames}")
    if kind == "interpolate":
        if train_poses is None or len(train_poses) == 0:
            raise NerfspecError("the interpolate path needs the scene's training poses")
        if not smoothing >= 0:
            raise NerfspecError(f"smoothing must be >= 0, got {smoothing}")
        return interpolate_path(train_poses.float(), frames, smoothing)
    if not radius > 0 or not math.isfinite(radius):
        raise NerfspecError(f"radius must be > 0, got {radius}")
    if kind == "orbit":
        poses = orbit_path(frames, radius, elevation_deg)
    elif kind == "spiral":
        poses = spiral_path(frames, radius, elevation_deg)
    else:
        raise NerfspecError(f"path must be one of {', '.join(PATHS)}, got {kind!r}")
    if centre is not None:  # the same path, looking at the centre instead of the origin
        poses[:, :3, 3] += centre.to(poses.dtype)
    return poses


def even_size(img: np.ndarray) -> np.ndarray:
    """Pad an (H, W, 3) image by repeating its last row / column to even H and W (H.264 with
    yuv420p needs even sizes)."""
    h, w = img.shape[:2]
    return np.pad(img, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


@dataclass
class VideoResult:
    paths: list[Path]
    frames: int
    width: int
    height: int
    seconds_per_frame: float  # rendering only, mean over frames


def render_video(run: LoadedRun, data: DataConfig, path: str = "orbit", frames: int = 120, fps: float = 30.0,
                 resolution: tuple[int, int] | None = None, downscale: int | None = None,
                 outputs: list[str] | None = None, layout: str = "side", gif: bool = False,
                 keep_frames: bool = False, out_dir: Path | None = None, radius: float | None = None,
                 elevation: float | None = None, chunk_rays: int = 8192,
                 quiet: bool = False, smoothing: float = 2.0) -> VideoResult:
    """Render ``path`` through a run of the dataset ``data`` (its DataConfig) and write the videos,
    ``chunk_rays`` rays at a time; returns their paths and the mean render time.

    Frames are pinhole views (no lens distortion) with the training cameras' mean focal length
    (and, where the run learned each photo's appearance, the nearest training view's),
    at ``resolution`` (W, H; the focal length scaled to keep the horizontal field of view) or
    the training images' size at ``downscale`` (default: the run's data.downscale). Orbit and
    spiral circle the centre of data.aabb (the scene frame's centre of interest) and default to
    the train cameras' mean distance and elevation from it. Files: OUT/<path>.mp4 (side) or
    OUT/<path>_<output>.mp4 (separate), plus .gif with ``gif``; OUT defaults to RUN/video.
    """
    from nerfspec.data.dataset import load_split

    outputs = outputs or ["rgb"]
    if layout not in LAYOUTS:
        raise NerfspecError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    if path not in PATHS:
        raise NerfspecError(f"path must be one of {', '.join(PATHS)}, got {path!r}")
    if not fps > 0:
        raise NerfspecError(f"fps must be > 0, got {fps}")
    if downscale is not None and downscale < 1:
        raise NerfspecError(f"downscale must be >= 1, got {downscale}")
    aabb = torch.as_tensor(data.aabb, dtype=torch.float32)
    data = dataclasses.replace(data, downscale=downscale or data.downscale)
    train = load_split(data, "train")
    width, height = resolution if resolution is not None else (train.width, train.height)
    focal = path_focal(train.cameras, width)
    centre = 0.5 * (aabb[:3] + aabb[3:])
    default_radius, default_elev = orbit_defaults(train.poses, centre)
    test_poses = load_split(data, "test").poses if path == "test" else None
    poses = camera_path(path, frames, radius if radius is not None else default_radius,
                        elevation if elevation is not None else default_elev, test_poses, centre,
                        train.poses, smoothing)

    out_dir = Path(out_dir) if out_dir is not None else video_dir(run.run_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    bg = background_colour(data.eval_background)
    render_bg = eval_background(data.eval_background, run.background)  # a learned one where the run has it
    near, far = box_near_far(poses[:, :3, 3], aabb)
    cameras = Cameras.pinhole(poses, width, height, focal)
    streams = ["+".join(outputs)] if layout == "side" else list(outputs)
    stem = {s: path if layout == "side" else f"{path}_{s}" for s in streams}
    paths = {s: out_dir / f"{stem[s]}.mp4" for s in streams}
    frame_dirs = {s: out_dir / f"{stem[s]}_frames" for s in streams}
    writers = {s: iio2.get_writer(paths[s], format="FFMPEG", mode="I", fps=fps, codec="libx264",
                                  pixelformat="yuv420p", quality=8, macro_block_size=1,
                                  ffmpeg_log_level="error") for s in streams}
    gif_frames: dict[str, list[np.ndarray]] = {s: [] for s in streams}
    if keep_frames:
        for d in frame_dirs.values():
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir(parents=True)
    nearest = nearest_views(train.poses, poses) if run.appearance is not None else None  # its colour response
    warm_up(run.field, run.estimator, cameras, 0, render_bg)  # one-off costs stay out of the per-frame time
    render_s = 0.0
    try:
        for k in tqdm(range(len(poses)), desc=f"render {path}", unit="frame", disable=quiet, dynamic_ncols=True):
            t0 = time.perf_counter()
            out = render_image(run.field, run.estimator, cameras, k, render_bg, chunk_rays)
            if nearest is not None:
                out["rgb"] = run.appearance.image(out["rgb"], int(nearest[k])).clamp(0, 1)
            render_s += time.perf_counter() - t0
            panels = {"rgb": out["rgb"]}
            if "depth" in outputs:
                panels["depth"] = depth_panel(out["depth"], out["opacity"], near, far, bg)
            if "opacity" in outputs:
                panels["opacity"] = grey_panel(out["opacity"])
            images = ({streams[0]: torch.cat([panels[o] for o in outputs], dim=1)} if layout == "side"
                      else {o: panels[o] for o in outputs})
            for s, img in images.items():
                frame = even_size(to_uint8(img))
                writers[s].append_data(frame)
                if gif:
                    gif_frames[s].append(frame)
                if keep_frames:
                    iio.imwrite(frame_dirs[s] / f"{k:04d}.png", frame)
    finally:
        for w in writers.values():
            w.close()
    written = [paths[s] for s in streams]
    for s in streams if gif else []:
        gif_path = out_dir / f"{stem[s]}.gif"
        iio.imwrite(gif_path, np.stack(gif_frames[s]), duration=1000.0 / fps, loop=0)
        written.append(gif_path)
    return VideoResult(written, len(poses), width, height, render_s / max(len(poses), 1))


def parse_number(flag: str, text, kind=int, low: float | None = None, high: float | None = None):
    """``text`` as ``kind`` (int or float) with low <= value <= high, else a one-line error naming ``flag``."""
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise NerfspecError(f"{flag} must be {'an integer' if kind is int else 'a number'}, got {text!r}") from None
    if (kind is float and not math.isfinite(value)) or (low is not None and value < low) or (
            high is not None and value > high):
        bounds = " and ".join(s for s in (f">= {low}" if low is not None else "",
                                          f"<= {high}" if high is not None else "") if s)
        raise NerfspecError(f"{flag} must be {bounds or 'finite'}, got {text!r}")
    return value
