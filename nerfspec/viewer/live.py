"""The viewer of a finished run (``nerfspec view``) and of one that trains (``--viewer``)."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field as dataclass_field
from pathlib import Path

from nerfspec.data.dataset import load_split
from nerfspec.export.video import box_near_far
from nerfspec.metrics import psnr_from_mse
from nerfspec.render.background import eval_background
from nerfspec.run_layout import eval_metrics_path
from nerfspec.viewer.schedule import Refinement, TimeBudget
from nerfspec.viewer.scene import find_mesh
from nerfspec.viewer.server import Source, Viewer


def saved_psnr(run_dir: Path) -> float | None:
    """The test PSNR of RUN/eval_test/metrics.json, if the run was evaluated."""
    path = eval_metrics_path(run_dir, "test")
    try:
        return float(json.loads(path.read_text())["psnr"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def source_for(field, estimator, background, cameras, chunk_rays: int) -> Source:
    near, far = box_near_far(cameras.c2w[:, :3, 3], estimator.aabb.cpu())
    return Source(field, estimator, background, near, far, chunk_rays)


def open_run_viewer(run, host: str, port: int, refinement: Refinement) -> Viewer:
    """A viewer of a loaded run (``nerfspec.models.LoadedRun``), scene populated."""
    cfg = run.cfg
    split = load_split(cfg.data, "train")
    viewer = Viewer(host, port, refinement)
    bg = eval_background(cfg.data.eval_background, run.background)
    viewer.source = source_for(run.field, run.estimator, bg, split.cameras, cfg.eval.chunk_rays)
    viewer.populate(split.cameras, split.images, run.estimator.aabb, run.estimator, find_mesh(run.run_dir))
    psnr = saved_psnr(run.run_dir)
    viewer.set_info(encoding=cfg.field.encoding, step=run.step, psnr=psnr, psnr_of="test")
    return viewer


@dataclass
class TrainingHook:
    """``on_step`` for ``Trainer.fit``: between steps, sends the frames the browsers wait for
    within a share ``budget`` of the wall time (``TimeBudget``: everything the hook does is
    charged), records the loss curve every ``curve_every`` steps, and holds training while the
    panel says paused (rendering meanwhile at full rate)."""

    viewer: Viewer
    budget: float = 0.12
    curve_every: int = 10
    grid_every_s: float = 5.0
    steps: list = dataclass_field(default_factory=list)
    losses: list = dataclass_field(default_factory=list)
    psnrs: list = dataclass_field(default_factory=list)
    clock: TimeBudget | None = None
    last_grid: float = 0.0
    frames: int = 0

    def __call__(self, trainer, stats: dict) -> None:
        t0 = time.perf_counter()
        if self.clock is None:
            self.clock = TimeBudget(self.budget, t0)
            self._attach(trainer)
        if trainer.step % self.curve_every == 0:
            loss = float(stats["loss"])
            if math.isfinite(loss):
                self.steps.append(trainer.step)
                self.losses.append(loss)
                self.psnrs.append(psnr_from_mse(loss))
                self.viewer.panel.show_curves(self.steps, self.losses, self.psnrs)
                self.viewer.set_info(step=trainer.step, psnr=self.psnrs[-1])
        if t0 - self.last_grid >= self.grid_every_s:
            self.viewer.refresh_grid(trainer.estimator)
            self.last_grid = t0
        if self.viewer.panel.paused:
            self._hold()
            return
        if self.clock.may_spend(time.perf_counter()):
            self.viewer.redraw()  # the field moved on since the last frame
            self.frames += self.viewer.render_pending(limit=1)
        now = time.perf_counter()
        self.clock.charge(now - t0, now)

    def _attach(self, trainer) -> None:
        cfg, split = trainer.cfg, trainer.train_split
        bg = eval_background(cfg.data.eval_background, trainer.background)
        self.viewer.source = source_for(trainer.field, trainer.estimator, bg, split.cameras, cfg.eval.chunk_rays)
        self.viewer.populate(split.cameras, split.images, trainer.estimator.aabb, trainer.estimator, None)
        self.viewer.set_info(encoding=cfg.field.encoding, step=trainer.step, psnr=None, psnr_of="training batch")

    def _hold(self) -> None:
        """Render for the browsers until the panel says resume; the pause is no training time."""
        self.viewer.set_info()
        self.viewer.redraw()
        while self.viewer.panel.paused:
            if self.viewer.render_pending() == 0:
                time.sleep(0.01)
        self.viewer.set_info()
        self.clock = TimeBudget(self.budget, time.perf_counter())  # the budget counts from the resume


def training_refinement() -> Refinement:
    """Frames while training: previews 256 pixels wide, moving or not (the field changes under
    a still camera anyway, and a refined frame would spend the budget on fewer updates)."""
    return Refinement(preview_width=256, max_width=256, refine=False)
