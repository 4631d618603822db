"""Render a split's views from a trained run and score them (PSNR, SSIM per view and mean)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import torch
from tqdm import tqdm

from nerfspec.data.blender import composite
from nerfspec.data.dataset import load_split
from nerfspec.fields.appearance import nearest_views
from nerfspec.metrics import psnr, ssim
from nerfspec.render.renderer import render_image, warm_up
from nerfspec.models import LoadedRun
from nerfspec.render.background import eval_background
from nerfspec.run import atomic_write_bytes
from nerfspec.run_layout import METRICS_NAME, eval_dir, eval_view_name


def to_uint8(img: torch.Tensor) -> np.ndarray:
    return (img.clamp(0, 1).numpy() * 255.0 + 0.5).astype(np.uint8)


def band_psnr(pred: torch.Tensor, target: torch.Tensor, band_image: torch.Tensor) -> dict[int, tuple[float, int]]:
    """Sum of squared errors and pixel count per band index (band image value - 1)."""
    out = {}
    err = ((pred - target) ** 2).mean(dim=-1)
    for b in torch.unique(band_image).tolist():
        if b == 0:
            continue
        mask = band_image == b
        out[b - 1] = (float(err[mask].sum()), int(mask.sum()))
    return out


@dataclass
class ScoredView:
    """One rendered view beside its image: ``out`` is ``render_image``'s dict (rgb (H, W, 3) after
    ``adjust``), ``target`` (H, W, 3) the image composited on the same background, ``psnr`` of
    the two, ``seconds`` the rendering (and ``adjust``) alone."""

    out: dict
    target: torch.Tensor
    psnr: float
    seconds: float


@torch.no_grad()
def render_and_score(field, estimator, split, view: int, background, chunk_rays: int,
                     adjust: Callable[[torch.Tensor], torch.Tensor] | None = None) -> ScoredView:
    """Render view ``view`` of a loaded ``split`` (cameras and images) on ``background`` (a
    colour or a learned background), apply ``adjust`` to the rgb (e.g. a photo's colour
    response), and score it against the view's image with its transparent pixels on the same
    background: PSNR = -10 log10(mean (rgb - target)^2). What training's validation, ``evaluate``
    and compare's curves each score."""
    t0 = time.perf_counter()
    out = render_image(field, estimator, split.cameras, view, background, chunk_rays)
    if adjust is not None:
        out["rgb"] = adjust(out["rgb"])
    seconds = time.perf_counter() - t0
    target = composite(split.image(view).float() / 255.0, out["background"])
    return ScoredView(out, target, psnr(out["rgb"], target), seconds)


def evaluate(run: LoadedRun, split: str = "test", every: int = 1, out_dir: Path | None = None,
             chunk_rays: int | None = None, quiet: bool = False) -> dict:
    """Render views 0, every, 2 every, ... of ``split`` on the eval background (the run's learned
    background, if it has one, else data.eval_background; transparent target pixels are
    composited on the same); write the images and ``metrics.json`` into ``out_dir`` (default
    RUN/eval_<split>) and return the metrics."""
    cfg = run.cfg
    data = load_split(cfg.data, split)
    out_dir = Path(out_dir) if out_dir is not None else eval_dir(run.run_dir, split)
    out_dir.mkdir(parents=True, exist_ok=True)
    bg = eval_background(cfg.data.eval_background, run.background)
    views = list(range(0, len(data), every))
    per_view, band_err = [], {}
    # a run that learned each photo's colour response renders a test view with its nearest
    # training view's (fields/appearance.py)
    nearest = (nearest_views(load_split(cfg.data, "train").poses, data.poses) if run.appearance is not None
               else None)
    startup_s = warm_up(run.field, run.estimator, data.cameras, views[0], bg)
    for k in tqdm(views, desc=f"eval {split}", disable=quiet, dynamic_ncols=True):
        adjust = None
        if nearest is not None:
            adjust = lambda rgb, k=k: run.appearance.image(rgb, int(nearest[k])).clamp(0, 1)  # noqa: E731
        view = render_and_score(run.field, run.estimator, data, k, bg, chunk_rays or cfg.eval.chunk_rays, adjust)
        rgb = view.out["rgb"]
        per_view.append({"view": k, "psnr": view.psnr, "ssim": ssim(rgb, view.target), "render_s": view.seconds})
        iio.imwrite(out_dir / eval_view_name(k), to_uint8(rgb))
        if data.band_images is not None:
            for b, (sse, n) in band_psnr(rgb, view.target, data.band_images[k]).items():
                s, c = band_err.get(b, (0.0, 0))
                band_err[b] = (s + sse, c + n)
    metrics = {
        "run": str(run.run_dir), "split": split, "every": every, "step": run.step,
        "encoding": cfg.field.encoding, "views": per_view,
        "psnr": float(np.mean([v["psnr"] for v in per_view])),
        "ssim": float(np.mean([v["ssim"] for v in per_view])),
        "seconds_per_view": float(np.mean([v["render_s"] for v in per_view])),  # rendering only
        "startup_s": startup_s,
        "appearance": "nearest training view" if nearest is not None else "none",  # loading kernels and sizing memory, once, before the first view
    }
    if band_err:
        names = {b.get("index", i): b for i, b in enumerate(data.bands)}
        metrics["bands"] = [
            {"index": b, "name": names.get(b, {}).get("name", str(b)),
             "cycles_per_unit": names.get(b, {}).get("cycles_per_unit"),
             "psnr": float(-10 * np.log10(max(sse / n, 1e-10))), "pixels": n}
            for b, (sse, n) in sorted(band_err.items())]
    atomic_write_bytes(out_dir / METRICS_NAME, json.dumps(metrics, indent=2).encode())
    return metrics
