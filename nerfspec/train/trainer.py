"""The trainer: the state of one run and the loop that spends its budget.

The pieces it holds each live in their own module: batches (batching.py), the step's maths
(step.py), the optimiser (optim.py), the schedule (schedule.py), numerical faults
(faults.py), what is logged (progress.py), and agreement between data-parallel ranks
(nerfspec/distributed.py).
"""

from __future__ import annotations

import copy
import math
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from tqdm import tqdm

from nerfspec.config import Config
from nerfspec.data.dataset import is_capture, load_split
from nerfspec.distributed import (
    DistContext,
    agree_max,
    average_gradients,
    broadcast_state,
    device_for,
    gather_states,
    rank_ray_state,
    rank_seed,
)
from nerfspec.errors import CheckpointError, DivergedError, NerfspecError
from nerfspec.evaluate import render_and_score
from nerfspec.fields.appearance import Appearance, appearance_enabled
from nerfspec.models import (
    build_background_model,
    build_models,
    check_encoding,
    load_estimator_state,
    load_state,
    pick_device,
)
from nerfspec.precision import resolve_precision
from nerfspec.render.background import eval_background
from nerfspec.render.carving import carve_empty_cells
from nerfspec.run import checkpoint_paths, load_checkpoint, save_checkpoint, write_run_info
from nerfspec.train.batching import RayBatcher, draw_background
from nerfspec.train.early_stop import field_query_cost, policy_for
from nerfspec.train.faults import FaultCounter, diverged_message, restore_warning, sync_point
from nerfspec.train.optim import build_optimizer, set_learning_rates, step_unless_nonfinite
from nerfspec.train.progress import StatsWindow, bar_postfix, training_scalars
from nerfspec.train.run_summary import describe_run, start_line
from nerfspec.train.schedule import lr_factor, next_ray_count, run_progress
from nerfspec.train.step import forward_backward, step_is_finite


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    elapsed_s: float
    interrupted: bool
    signal: int | None = None  # the signal that stopped the run (SIGINT / SIGTERM), if any
    skipped_steps: int = 0  # steps skipped for a non-finite loss or gradient


class Trainer:
    """Holds the state of one run; ``fit()`` trains until the step or time budget is spent."""

    def __init__(self, cfg: Config, run_dir: Path | None, resume: bool = False, quiet: bool = False,
                 dist_ctx: DistContext | None = None, scene_note: str = ""):
        self.cfg, self.run_dir, self.dist = cfg, run_dir, dist_ctx
        self.scene_note = scene_note  # which frame, box and scene model were chosen, and why
        self.is_main = dist_ctx is None or dist_ctx.is_main
        self.quiet = quiet or not self.is_main
        if cfg.train.threads > 0:
            torch.set_num_threads(cfg.train.threads)
        self.device = device_for(dist_ctx, pick_device(cfg.train.device))
        self.train_split = load_split(cfg.data, "train")
        self.val_split = None
        if cfg.train.val_every > 0:
            try:
                self.val_split = load_split(cfg.data, "val")
            except NerfspecError as exc:
                print(f"note: no validation images ({exc})", file=sys.stderr)
        self.batcher = RayBatcher(self.train_split, self.device)
        self.field, self.estimator = build_models(cfg, self.device)
        if cfg.sampler.carve:  # on resume the checkpoint's grid replaces this
            split = self.train_split
            self.estimator.carve(carve_empty_cells(self.estimator.aabb.cpu(), cfg.sampler.grid_resolution,
                                                   split.images[..., 3], split.cameras))
        self.background = build_background_model(cfg, self.device)  # None: fixed colours
        self.appearance = (Appearance(len(self.train_split)).to(self.device)
                           if appearance_enabled(cfg.train.appearance, is_capture(cfg.data.root)) else None)
        self.optimizer = build_optimizer(self.field, cfg.train, self.device, self.background, self.appearance)
        self.early_stop = policy_for(cfg.sampler.train_early_stop, self.device, lambda: field_query_cost(
            self.field, self.estimator.aabb, max(cfg.train.target_samples, 1 << 16)))
        self.generator = torch.Generator(device=self.device).manual_seed(rank_seed(cfg.train.seed, dist_ctx))
        if dist_ctx is not None:
            broadcast_state(self.field)
            for extra in (self.background, self.appearance):
                if extra is not None:
                    broadcast_state(extra)
        self.step, self.elapsed_s, self.rays = 0, 0.0, cfg.train.rays_per_step
        self.totals = {"rays": 0, "samples": 0}  # composited over the run, for run_info.json
        # numerical faults: skipped steps and the current run of them (device counters),
        # restores and the learning-rate multiplier they left
        self.faults = FaultCounter(self.device)
        self.restores, self.lr_scale = 0, 1.0
        self.stop_requested, self.stop_signal = False, None
        if resume:
            self._restore()
        self._saved_step = self.step if resume else -1
        # restored when faults persist before the run has a checkpoint
        self._start_state = copy.deepcopy(self.state_dict())

    @property
    def skipped_steps(self) -> Tensor:
        return self.faults.skipped

    @property
    def bad_streak(self) -> Tensor:
        return self.faults.streak

    @property
    def precision(self) -> str:
        return resolve_precision(self.cfg.field.precision, self.device)

    def describe(self) -> dict:
        """What this run runs on and trains: the content of run_info.json."""
        return describe_run(self)

    def start_line(self) -> str:
        """One line saying what is about to train, on what."""
        return start_line(self.describe(), self.scene_note)

    # -- checkpoints ---------------------------------------------------------------------
    def state_dict(self, ray_states: list[Tensor] | None = None) -> dict:
        """The checkpoint; ``ray_states``: every rank's ray generator state under data
        parallelism (``gather_states``), so each rank resumes drawing its own rays."""
        return {
            "field": self.field.state_dict(),
            **({"background": self.background.state_dict()} if self.background is not None else {}),
            **({"appearance": self.appearance.state_dict()} if self.appearance is not None else {}),
            "estimator": self.estimator.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": {"elapsed_s": self.elapsed_s, "rays": self.rays, "lr_scale": self.lr_scale,
                         "restores": self.restores, "skipped_steps": int(self.faults.skipped),
                         "early_stop": self.early_stop.state_dict(), "totals": dict(self.totals)},
            "step": self.step,
            "rng": {"rays": self.generator.get_state(), "torch": torch.get_rng_state(),
                    "device": self.device.type,
                    **({"rays_by_rank": ray_states} if ray_states is not None else {})},
            "encoding": self.cfg.field.encoding,
            "device": self.device.type,
            "kernels": self.estimator.backend,
        }

    def _restore(self) -> None:
        state = load_checkpoint(self.run_dir, self.device)
        if state is None:
            print(f"note: {self.run_dir} has no checkpoint yet; starting at step 0", file=sys.stderr)
            return
        self._load_models(state)
        schedule = state["schedule"]
        self.elapsed_s = float(schedule["elapsed_s"])
        self.lr_scale = float(schedule.get("lr_scale", 1.0))
        self.restores = int(schedule.get("restores", 0))
        self.faults = FaultCounter(self.device, int(schedule.get("skipped_steps", 0)))
        rng = state["rng"]
        torch.set_rng_state(rng["torch"].cpu())
        own = rank_ray_state(rng, self.dist)
        same_device = rng.get("device", "cpu") == self.device.type
        if same_device and own is not None:
            self.generator.set_state(own.cpu())
            return
        # no state of this rank's own to continue from: a fresh seed per rank
        self.generator.manual_seed(rank_seed(self.cfg.train.seed, self.dist) + self.step)
        if same_device:  # saved with another number of ranks
            if self.is_main:
                print("note: the checkpoint was saved with another number of ranks: each rank draws "
                      "its rays from a fresh seed", file=sys.stderr)
        else:  # a generator's state does not carry over between device types
            print(f"note: resuming on {self.device.type} a run trained on {rng.get('device', 'cpu')}: "
                  "the rays drawn from here differ from an uninterrupted run", file=sys.stderr)

    def _load_models(self, state: dict) -> None:
        """Field, occupancy grid, optimiser, step and ray count from a checkpoint."""
        check_encoding(state, self.cfg, self.run_dir)
        load_state(self.field, state["field"], f"field ({self.cfg.field.encoding})", self.run_dir)
        load_estimator_state(self.estimator, state["estimator"], self.run_dir)
        if self.background is not None:
            load_state(self.background, state.get("background", {}),
                       f"background ({self.cfg.background.model})", self.run_dir)
        if self.appearance is not None:
            load_state(self.appearance, state.get("appearance", {}), "per-image appearance", self.run_dir)
        built = [{k: v for k, v in g.items() if k != "params"} for g in self.optimizer.param_groups]
        try:
            self.optimizer.load_state_dict(state["optimizer"])
        except (ValueError, KeyError) as exc:
            raise CheckpointError(f"{self.run_dir}: checkpoint's optimiser state does not match the "
                                  f"configured field ({exc})") from None
        for group, settings in zip(self.optimizer.param_groups, built):
            group.update(settings)  # rates, names and the fused kernel come from the config
        self.step = int(state["step"])
        self.rays = int(state["schedule"]["rays"])
        self.early_stop.load_state_dict(state["schedule"].get("early_stop", {}))
        self.totals = dict(state["schedule"].get("totals", {"rays": 0, "samples": 0}))

    def save(self) -> Path | None:
        """Write a checkpoint and run_info.json (rank 0 only under data parallelism)."""
        path = None
        # collective: every rank hands in its ray generator state, rank 0 writes them all
        ray_states = gather_states(self.generator.get_state(), self.dist) if self.dist is not None else None
        if self.is_main:
            path = save_checkpoint(self.run_dir, self.state_dict(ray_states), self.step)
            write_run_info(self.run_dir, self.describe())
        self._saved_step = self.step
        return path

    # -- numerical faults ----------------------------------------------------------------
    def _recover(self) -> None:
        """After ``max_bad_steps`` non-finite steps in a row: reload the newest checkpoint (or
        the state training started from) and halve the learning rate, at most
        ``max_restores`` times; then stop with ``DivergedError``."""
        cfg = self.cfg.train
        bad = int(self.faults.streak)
        newest = checkpoint_paths(self.run_dir) if self.run_dir is not None else []
        if self.restores >= cfg.max_restores:
            raise DivergedError(diverged_message(bad, self.step, self.restores, cfg.max_restores, cfg.lr,
                                                 str(newest[0]) if newest else None))
        state = load_checkpoint(self.run_dir, self.device) if newest else None
        source = newest[0].name if state is not None else "the starting state"
        if state is None:
            state = self._start_state
        at = self.step
        self._load_models(state)
        self.restores += 1
        self.lr_scale *= 0.5
        self.faults.reset_streak()
        tqdm.write(restore_warning(bad, at, self.step, source, self.lr_scale, self.restores,
                                   cfg.max_restores), file=sys.stderr)

    # -- one step ------------------------------------------------------------------------
    def train_step(self) -> dict:
        """One step; the returned loss and fault counts are device tensors (read them at will:
        the loop itself reads them only at log points)."""
        cfg = self.cfg
        progress = run_progress(cfg.train, self.step, self.elapsed_s)
        factor = lr_factor(cfg.train, self.step, progress) * self.lr_scale
        set_learning_rates(self.optimizer, factor)
        self.field.set_progress(self.step, progress)
        self.field.train()
        if self.estimator.update(self.step, self.field.density, self.generator) and self.dist is not None:
            broadcast_state(self.estimator)  # every rank marches the same grid

        origins, dirs, rgba, views = self.batcher.sample_with_views(self.rays, self.generator)
        self.optimizer.zero_grad(set_to_none=True)
        if self.background is not None:
            bg = self.background(dirs)
        else:
            bg = draw_background(cfg.data.train_background, origins.shape[0], self.generator, self.device)
        mode = self.early_stop.choose()
        out, loss = forward_backward(self.field, self.estimator, origins, dirs, rgba, bg, mode,
                                     cfg.train.distortion_weight, cfg.train.background_opacity_weight,
                                     self.appearance, views)
        self.early_stop.observe(mode, out.n_traversed, out.n_evaluated, out.n_samples)
        params = self.parameters()
        if self.dist is not None:  # every rank joins, so one without samples cannot stall the rest
            average_gradients(params, self.dist)
        # under data parallelism only the (shared) gradient decides, so ranks agree
        finite = step_is_finite(loss, params, gradients_only=self.dist is not None)
        step_unless_nonfinite(self.optimizer, finite)
        self.faults.record(finite)
        rays = self.rays
        self.rays = next_ray_count(cfg.train, rays, out.n_samples)
        self.totals["rays"] += rays
        self.totals["samples"] += out.n_samples
        self.step += 1
        stats = {"loss": loss.detach(), "finite": finite, "lr": cfg.train.lr * factor, "rays": rays,
                 "samples": out.n_samples, "skipped": (~finite).long(),
                 "skipped_steps": self.faults.skipped.clone()}
        if (sync_point(self.device, self.step, cfg.train.log_every)
                and int(self.faults.streak) >= cfg.train.max_bad_steps):
            self._recover()
        return stats

    def parameters(self) -> list[Tensor]:
        """Every trained parameter: the field's, a learned background's and the images' appearance."""
        params = list(self.field.parameters())
        for extra in (self.background, self.appearance):
            params += list(extra.parameters()) if extra is not None else []
        return params

    # -- validation ----------------------------------------------------------------------
    def validation_image(self) -> tuple[float, Tensor] | None:
        if self.val_split is None:
            return None
        cfg = self.cfg
        self.field.eval()
        view = render_and_score(self.field, self.estimator, self.val_split, 0,
                                eval_background(cfg.data.eval_background, self.background), cfg.eval.chunk_rays)
        return view.psnr, torch.cat([view.out["rgb"], view.target], dim=1)

    # -- the loop ------------------------------------------------------------------------
    def fit(self, writer=None, on_step=None) -> TrainResult:
        """Train until the budget is spent. ``on_step(trainer, stats)``, if given, runs after
        every step (after its checkpoint); its time is not counted in ``elapsed_s``."""
        cfg = self.cfg.train
        if not self.quiet:
            tqdm.write(self.start_line())
        handlers = self._install_signal_handlers()
        bar = tqdm(total=cfg.max_steps, initial=self.step, desc=self.cfg.name, disable=self.quiet,
                   dynamic_ncols=True)
        window = StatsWindow(self.device)
        try:
            while self.step < cfg.max_steps:
                if self.dist is not None:  # ranks stop together: the slowest clock and any signal
                    self.elapsed_s, stop = agree_max([self.elapsed_s, float(self.stop_requested)], self.device)
                    self.stop_requested = self.stop_requested or stop > 0
                if self.stop_requested:
                    break
                if cfg.max_minutes > 0 and self.elapsed_s >= 60.0 * cfg.max_minutes:
                    break
                t0 = time.perf_counter()
                stats = self.train_step()
                dt = time.perf_counter() - t0
                self.elapsed_s += dt
                window.add(stats["loss"], stats["finite"], stats["rays"], stats["samples"], dt)
                bar.update(self.step - bar.n)  # a restore after numerical faults moves back
                if self.step % cfg.log_every == 0 or self.step == cfg.max_steps:
                    self._log(window, stats, bar, writer)
                    window.reset()
                if cfg.val_every > 0 and self.step % cfg.val_every == 0 and writer is not None:
                    t1 = time.perf_counter()
                    val = self.validation_image()
                    if val is not None:
                        writer.add_scalar("val/psnr", val[0], self.step)
                        writer.add_image("val/render_vs_gt", val[1], self.step, dataformats="HWC")
                    self.elapsed_s += time.perf_counter() - t1
                if self.step % cfg.checkpoint_every == 0 and int(self.faults.streak) == 0:
                    self.save()
                if on_step is not None:
                    on_step(self, stats)
        finally:
            bar.close()
            for sig, old in handlers.items():
                signal.signal(sig, old)
        if self._saved_step != self.step:
            self.save()
        return TrainResult(self.run_dir, self.step, self.elapsed_s, self.stop_requested,
                           self.stop_signal, int(self.faults.skipped))

    def _log(self, window: StatsWindow, stats: dict, bar, writer) -> None:
        summary = window.summary()
        bar.set_postfix(bar_postfix(summary, self.elapsed_s, self.cfg.train.max_minutes))
        if writer is None:
            return
        scalars = training_scalars(summary, stats["lr"], stats["rays"],
                                   getattr(self.estimator, "occupied_fraction", math.nan), self.elapsed_s,
                                   int(self.faults.skipped), self.lr_scale)
        scalars.update(self.field.scalars())
        for key, value in scalars.items():
            writer.add_scalar(key, value, self.step)

    def _install_signal_handlers(self) -> dict:
        def request_stop(signum, _frame):
            if self.stop_requested:  # a second Ctrl-C: stop now
                raise KeyboardInterrupt
            self.stop_requested, self.stop_signal = True, signum

        old = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                old[sig] = signal.signal(sig, request_stop)
            except ValueError:  # not the main thread
                pass
        return old
