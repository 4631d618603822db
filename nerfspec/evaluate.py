"""Render a split's views from a trained run and score them (PSNR, SSIM per view and mean)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import torch
from tqdm import tqdm

from nerfspec.data.blender import composite
from nerfspec.data.dataset import load_split
from nerfspec.fields.appearance import nearest_views
from nerfspec.metrics import psnr, ssim
from nerfspec.poses.evaluate import optimise_view_pose, test_posing, with_poses, with_view_pose
from nerfspec.poses.plot import camera_plot
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
             chunk_rays: int | None = None, quiet: bool = False, pose_steps: int | None = None) -> dict:
    """Render views 0, every, 2 every, ... of ``split`` on the eval background (the run's learned
    background, if it has one, else data.eval_background; transparent target pixels are
    composited on the same); write the images and ``metrics.json`` into ``out_dir`` (default
    RUN/eval_<split>) and return the metrics.

    A run that refined its cameras, or trained on a perturbed scene, is scored by BARF's
    protocol (nerfspec/poses/evaluate.py): its cameras' errors, the split's cameras aligned into
    its frame, and each view's pose optimised for ``pose_steps`` steps (default 100; 0: none)
    with the field frozen; "psnr" and "ssim" are then after that optimisation and
    "psnr_before_pose_optimisation" / "ssim_before_pose_optimisation" before it. ``pose_steps``
    given for an ordinary run scores it the same way."""
    cfg = run.cfg
    data = load_split(cfg.data, split)
    out_dir = Path(out_dir) if out_dir is not None else eval_dir(run.run_dir, split)
    out_dir.mkdir(parents=True, exist_ok=True)
    bg = eval_background(cfg.data.eval_background, run.background)
    views = list(range(0, len(data), every))
    per_view, band_err = [], {}
    posing = test_posing(run, split, data, pose_steps)
    posed = data if posing is None else with_poses(data, posing.cameras.c2w)
    chunk = chunk_rays or cfg.eval.chunk_rays
    # a run that learned each photo's colour response renders a test view with its nearest
    # training view's (fields/appearance.py)
    nearest = (nearest_views(load_split(cfg.data, "train").poses, data.poses) if run.appearance is not None
               else None)
    startup_s = warm_up(run.field, run.estimator, posed.cameras, views[0], bg)
    for k in tqdm(views, desc=f"eval {split}", disable=quiet, dynamic_ncols=True):
        adjust = None
        if nearest is not None:
            adjust = lambda rgb, k=k: run.appearance.image(rgb, int(nearest[k])).clamp(0, 1)  # noqa: E731
        entry, view_split = {"view": k}, posed
        if posing is not None and posing.settings.steps > 0:
            before = render_and_score(run.field, run.estimator, view_split, k, bg, chunk, adjust)
            entry.update(psnr_before_pose_optimisation=before.psnr,
                         ssim_before_pose_optimisation=ssim(before.out["rgb"], before.target))
            t0 = time.perf_counter()
            view_split = with_view_pose(posed, k, optimise_view_pose(
                run.field, run.estimator, posed.cameras, k, data.image(k), bg, posing.settings, posing.centre, seed=k))
            entry["pose_optimisation_s"] = time.perf_counter() - t0
        view = render_and_score(run.field, run.estimator, view_split, k, bg, chunk, adjust)
        rgb = view.out["rgb"]
        entry.update(psnr=view.psnr, ssim=ssim(rgb, view.target), render_s=view.seconds)
        per_view.append(entry)
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
    if posing is not None:
        a = posing.aligned
        camera_plot(out_dir / "cameras.png", a.reference, a.before, a.after, "true" if a.has_truth else "loaded")
        metrics["poses"] = posing.report
        metrics["pose_optimisation"] = asdict(posing.settings)
        for key in ("psnr", "ssim"):
            before = [v[f"{key}_before_pose_optimisation"] for v in per_view if f"{key}_before_pose_optimisation" in v]
            if before:
                metrics[f"{key}_before_pose_optimisation"] = float(np.mean(before))
    if band_err:
        names = {b.get("index", i): b for i, b in enumerate(data.bands)}
        metrics["bands"] = [
            {"index": b, "name": names.get(b, {}).get("name", str(b)),
             "cycles_per_unit": names.get(b, {}).get("cycles_per_unit"),
             "psnr": float(-10 * np.log10(max(sse / n, 1e-10))), "pixels": n}
            for b, (sse, n) in sorted(band_err.items())]
    atomic_write_bytes(out_dir / METRICS_NAME, json.dumps(metrics, indent=2).encode())
    return metrics
