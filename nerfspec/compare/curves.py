"""PSNR and residual-spectrum curves while a compared run trains: at evenly spaced points of
the budget the curve subset of the test views is scored, and the points kept in RUN/compare.json
(with the run's sample, ray and time counters) so they survive resuming."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch

from nerfspec.compare.status import read_json
from nerfspec.config import Config
from nerfspec.render.background import eval_background
from nerfspec.run_layout import compare_state_path
from nerfspec.spectrum import default_band_edges, residual_band_power

def curve_views(n_views: int, every: int) -> list[int]:
    """Views 0, K, 2K, ... of the curve subset; K = ``every`` or, for 0, about 4 views."""
    k = every if every > 0 else max(1, math.ceil(n_views / 4))
    return list(range(0, n_views, k))


def curve_index(cfg: Config, step: int, elapsed_s: float, points: int) -> int:
    """Which of the points 1..P a state has reached: floor(progress * P), progress =
    max(step / max_steps, seconds / budget seconds) (the trainer's schedule progress)."""
    from nerfspec.train import run_progress

    return int(math.floor(run_progress(cfg.train, step, elapsed_s) * points + 1e-9))


@torch.no_grad()
def score_views(field_, estimator, split, views: list[int], background,
                chunk_rays: int, edges: np.ndarray) -> dict:
    """Render ``views`` of a split on ``background`` (a colour or a learned background; the
    targets' transparent pixels go on the same): mean PSNR and mean residual band power (B,)."""
    from nerfspec.evaluate import render_and_score

    psnrs, powers = [], []
    for k in views:
        view = render_and_score(field_, estimator, split, k, background, chunk_rays)
        psnrs.append(view.psnr)
        powers.append(residual_band_power(view.out["rgb"].numpy(), view.target.numpy(), edges))
    return {"psnr": float(np.mean(psnrs)), "band_power": np.mean(powers, axis=0).tolist()}


class CurveRecorder:
    """``on_step`` callback of the trainer: counts samples and training time, and at each of
    ``points`` evenly spaced fractions of the budget scores the curve subset of the test split.
    State lives in RUN/compare.json (written atomically), so it survives resuming."""

    def __init__(self, run_dir: Path, cfg: Config, points: int, every: int, max_bands: int,
                 start_elapsed_s: float = 0.0):
        from nerfspec.data.dataset import load_split

        self.path, self.cfg, self.points = compare_state_path(run_dir), cfg, points
        self.split = load_split(cfg.data, "test")
        self.views = curve_views(len(self.split), every)
        self.edges = default_band_edges(self.split.height, self.split.width, max_bands)
        self.state = load_state(run_dir)
        self.state.update(band_edges=[float(e) for e in self.edges], curve_views=self.views)
        self.state["curve"] = reindex_curve(self.state.get("curve", []), cfg, points)
        self.last_elapsed = start_elapsed_s

    def __call__(self, trainer, stats: dict) -> None:
        c = self.state["counters"]
        c["samples"] += int(stats["samples"])
        c["rays"] += int(stats["rays"])
        c["steps"] += 1
        c["seconds"] += max(trainer.elapsed_s - self.last_elapsed, 0.0)
        self.last_elapsed = trainer.elapsed_s
        if "params" not in self.state:
            self.state["params"] = sum(p.numel() for p in trainer.field.parameters())
        index = curve_index(self.cfg, trainer.step, trainer.elapsed_s, self.points)
        if index >= 1 and index not in {p["index"] for p in self.state["curve"]}:
            self.record(trainer.field, trainer.estimator, trainer.step, trainer.elapsed_s, index,
                        trainer.background)

    def record(self, field_, estimator, step: int, elapsed_s: float, index: int, learned=None) -> None:
        """Score the curve subset now (torch's RNG state is left as it was) and save; ``learned``:
        the run's learned background, if it has one."""
        devices = [field_.aabb.device] if field_.aabb.is_cuda else []
        was_training = field_.training
        with torch.random.fork_rng(devices=devices):
            field_.eval()
            scores = score_views(field_, estimator, self.split, self.views,
                                 eval_background(self.cfg.data.eval_background, learned),
                                 self.cfg.eval.chunk_rays, self.edges)
        field_.train(was_training)
        self.state["curve"].append({"index": index, "step": step, "elapsed_s": elapsed_s, **scores})
        self.state["curve"].sort(key=lambda p: p["index"])
        self.flush()

    def flush(self) -> None:
        from nerfspec.run import atomic_write_bytes

        atomic_write_bytes(self.path, json.dumps(self.state, indent=1).encode())


def load_state(run_dir: Path) -> dict:
    """RUN/compare.json, or a fresh state."""
    state = read_json(compare_state_path(run_dir)) or {}
    state.setdefault("counters", {})
    for k in ("samples", "rays", "steps", "seconds"):
        state["counters"].setdefault(k, 0)
    state.setdefault("curve", [])
    return state


def reindex_curve(curve: list[dict], cfg: Config, points: int) -> list[dict]:
    """Give recorded points their index under the current budget and point count, keeping
    the first point of each index (a longer budget re-spaces the points of a shorter one)."""
    out: dict[int, dict] = {}
    for p in sorted(curve, key=lambda p: (p["step"], p["elapsed_s"])):
        i = curve_index(cfg, p["step"], p["elapsed_s"], points)
        if i >= 1 and i not in out:
            out[i] = {**p, "index": i}
    return [out[i] for i in sorted(out)]
