"""The training loop: random rays from all training images -> render -> MSE -> Adam."""

from __future__ import annotations

import copy
import math
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm import tqdm

from nerfspec.cameras import pixel_rays
from nerfspec.config import Config, TrainConfig
from nerfspec.data.blender import BlenderSplit, composite, load_blender_split
from nerfspec.errors import CheckpointError, DivergedError, NerfspecError, OutputError
from nerfspec.metrics import psnr, psnr_from_mse
from nerfspec.distributed import (
    DistContext,
    agree_max,
    average_gradients,
    barrier,
    broadcast_state,
    device_for,
    init_from_env,
    rank_seed,
    shutdown,
    weights_in_sync,
)
from nerfspec.render.carving import carve_empty_cells
from nerfspec.render.renderer import render_image, render_rays
from nerfspec.run import (
    build_models,
    check_encoding,
    check_new_run_dir,
    checkpoint_paths,
    create_run_dir,
    describe_os_error,
    load_checkpoint,
    load_state,
    pick_device,
    read_run_config,
    save_checkpoint,
)

BACKGROUNDS = {"white": (1.0, 1.0, 1.0), "black": (0.0, 0.0, 0.0)}


def background_colour(name: str, device=None) -> Tensor:
    """(3,) colour of a named background (white | black)."""
    return torch.tensor(BACKGROUNDS[name], device=device)


class RayBatcher:
    """Draws random pixels uniformly over all pixels of all training images."""

    def __init__(self, split: BlenderSplit, device: torch.device):
        self.pixels = split.images.reshape(-1, 4).to(device)  # uint8, (N H W, 4)
        self.poses = split.poses.to(device)
        self.width, self.height, self.focal = split.width, split.height, split.focal

    def sample(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        """origins (n, 3), unit dirs (n, 3), straight rgba (n, 4) in [0, 1]."""
        device = self.pixels.device
        idx = torch.randint(self.pixels.shape[0], (n,), generator=generator).to(device)
        hw = self.width * self.height
        img, pix = idx // hw, idx % hw
        origins, dirs = pixel_rays(self.poses[img], pix % self.width, pix // self.width,
                                   self.width, self.height, self.focal)
        return origins, dirs, self.pixels[idx].float() / 255.0


def learning_rate(cfg: TrainConfig, step: int, progress: float) -> float:
    """lr = lr0 (lr_final / lr0)^progress, times a linear warm-up min(1, (step + 1) / warmup)."""
    decay = cfg.lr * (cfg.lr_final / cfg.lr) ** min(max(progress, 0.0), 1.0)
    warm = min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps > 0 else 1.0
    return decay * warm


def run_progress(cfg: TrainConfig, step: int, elapsed_s: float) -> float:
    """Share of the budget used: max(step / max_steps, elapsed / max_minutes) in [0, 1]."""
    p = step / cfg.max_steps
    if cfg.max_minutes > 0:
        p = max(p, elapsed_s / (60.0 * cfg.max_minutes))
    return min(p, 1.0)


def next_ray_count(cfg: TrainConfig, rays: int, samples: int) -> int:
    """With ``target_samples``, scale the ray count towards target_samples / samples-per-ray."""
    if cfg.target_samples <= 0:
        return cfg.rays_per_step
    per_ray = max(samples, 1) / max(rays, 1)
    return int(min(max(cfg.target_samples / per_ray, 64), cfg.max_rays_per_step))


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

    def __init__(self, cfg: Config, run_dir: Path, resume: bool = False, quiet: bool = False,
                 dist_ctx: DistContext | None = None):
        self.cfg, self.run_dir, self.dist = cfg, run_dir, dist_ctx
        self.is_main = dist_ctx is None or dist_ctx.is_main
        self.quiet = quiet or not self.is_main
        if cfg.train.threads > 0:
            torch.set_num_threads(cfg.train.threads)
        self.device = device_for(dist_ctx, pick_device(cfg.train.device))
        self.train_split = load_blender_split(cfg.data.root, "train", cfg.data.downscale)
        self.val_split = None
        if cfg.train.val_every > 0:
            try:
                self.val_split = load_blender_split(cfg.data.root, "val", cfg.data.downscale)
            except NerfspecError as exc:
                print(f"note: no validation images ({exc})", file=sys.stderr)
        self.batcher = RayBatcher(self.train_split, self.device)
        self.field, self.estimator = build_models(cfg, self.device)
        if cfg.sampler.carve:  # on resume the checkpoint's grid replaces this
            split = self.train_split
            self.estimator.carve(carve_empty_cells(self.estimator.aabb.cpu(), cfg.sampler.grid_resolution,
                                                   split.images[..., 3], split.poses, split.focal))
        self.optimizer = torch.optim.Adam(self.field.parameters(), lr=cfg.train.lr, eps=1e-15,
                                          weight_decay=cfg.train.weight_decay)
        self.generator = torch.Generator().manual_seed(rank_seed(cfg.train.seed, dist_ctx))
        if dist_ctx is not None:
            broadcast_state(self.field)
        self.step, self.elapsed_s, self.rays = 0, 0.0, cfg.train.rays_per_step
        # numerical faults: skipped steps, the current run of them, restores, lr multiplier
        self.skipped_steps, self.bad_streak, self.restores, self.lr_scale = 0, 0, 0, 1.0
        self.stop_requested, self.stop_signal = False, None
        if resume:
            self._restore()
        self._saved_step = self.step if resume else -1
        # restored when faults persist before the run has a checkpoint
        self._start_state = copy.deepcopy(self.state_dict())

    # -- checkpoints ---------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "field": self.field.state_dict(),
            "estimator": self.estimator.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": {"elapsed_s": self.elapsed_s, "rays": self.rays, "lr_scale": self.lr_scale,
                         "restores": self.restores, "skipped_steps": self.skipped_steps},
            "step": self.step,
            "rng": {"rays": self.generator.get_state(), "torch": torch.get_rng_state()},
            "encoding": self.cfg.field.encoding,
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
        self.skipped_steps = int(schedule.get("skipped_steps", 0))
        self.generator.set_state(state["rng"]["rays"].cpu())
        torch.set_rng_state(state["rng"]["torch"].cpu())

    def _load_models(self, state: dict) -> None:
        """Field, occupancy grid, optimiser, step and ray count from a checkpoint."""
        check_encoding(state, self.cfg, self.run_dir)
        load_state(self.field, state["field"], f"field ({self.cfg.field.encoding})", self.run_dir)
        load_state(self.estimator, state["estimator"], "occupancy grid", self.run_dir)
        try:
            self.optimizer.load_state_dict(state["optimizer"])
        except (ValueError, KeyError) as exc:
            raise CheckpointError(f"{self.run_dir}: checkpoint's optimiser state does not match the "
                                  f"configured field ({exc})") from None
        self.step = int(state["step"])
        self.rays = int(state["schedule"]["rays"])

    def save(self) -> Path | None:
        """Write a checkpoint (rank 0 only under data parallelism)."""
        path = save_checkpoint(self.run_dir, self.state_dict(), self.step) if self.is_main else None
        self._saved_step = self.step
        return path

    # -- numerical faults ----------------------------------------------------------------
    def _recover(self) -> None:
        """After ``max_bad_steps`` non-finite steps in a row: reload the newest checkpoint (or
        the state training started from) and halve the learning rate, at most
        ``max_restores`` times; then stop with ``DivergedError``."""
        cfg = self.cfg.train
        newest = checkpoint_paths(self.run_dir) if self.run_dir is not None else []
        if self.restores >= cfg.max_restores:
            where = f"last good checkpoint: {newest[0]}" if newest else "no checkpoint was written"
            raise DivergedError(
                f"training diverged: {self.bad_streak} steps in a row with a non-finite loss or gradient "
                f"at step {self.step}, after {self.restores} restores with the learning rate halved "
                f"each time (train.max_restores = {cfg.max_restores}); lower train.lr "
                f"(now {cfg.lr:g}) or check the data; {where}")
        state = load_checkpoint(self.run_dir, self.device) if newest else None
        source = newest[0].name if state is not None else "the starting state"
        if state is None:
            state = self._start_state
        bad, at = self.bad_streak, self.step
        self._load_models(state)
        self.restores += 1
        self.lr_scale *= 0.5
        self.bad_streak = 0
        tqdm.write(f"warning: {bad} steps in a row with a non-finite loss or gradient at step {at}; "
                   f"restored step {self.step} from {source} and halved the learning rate "
                   f"(scale {self.lr_scale:g}, restore {self.restores} of {cfg.max_restores})", file=sys.stderr)

    # -- one step ------------------------------------------------------------------------
    def train_step(self) -> dict[str, float]:
        cfg = self.cfg
        progress = run_progress(cfg.train, self.step, self.elapsed_s)
        lr = learning_rate(cfg.train, self.step, progress) * self.lr_scale
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.field.set_progress(self.step, progress)
        self.field.train()
        if self.estimator.update(self.step, self.field.density, self.generator) and self.dist is not None:
            broadcast_state(self.estimator)  # every rank marches the same grid

        origins, dirs, rgba = self.batcher.sample(self.rays, self.generator)
        if cfg.data.train_background == "random":
            bg = torch.rand(origins.shape[0], 3, generator=self.generator).to(self.device)
        else:
            bg = background_colour(cfg.data.train_background, self.device)
        target = composite(rgba, bg)
        out = render_rays(self.field, self.estimator, origins, dirs, bg)
        loss = F.mse_loss(out.rgb, target)
        self.optimizer.zero_grad(set_to_none=True)
        finite = True
        has_grad = out.n_samples > 0
        if has_grad:
            loss.backward()
        if self.dist is not None:  # every rank joins, so one without samples cannot stall the rest
            average_gradients(list(self.field.parameters()), self.dist)
            has_grad = True
        if has_grad:
            grads = [p.grad for p in self.field.parameters() if p.grad is not None]
            norm = torch.nn.utils.get_total_norm(grads) if grads else torch.zeros((), device=loss.device)
            # one host sync for both checks: the sum is finite iff loss and gradient norm are;
            # under data parallelism only the (shared) gradient decides, so ranks agree
            check = norm.float() if self.dist is not None else loss.detach().float() + norm.float()
            finite = bool(torch.isfinite(check))
            if finite:
                self.optimizer.step()
        if finite:
            self.bad_streak = 0
        else:  # skip the update; the step still counts towards the budget
            self.optimizer.zero_grad(set_to_none=True)
            self.skipped_steps += 1
            self.bad_streak += 1
        rays = self.rays
        self.rays = next_ray_count(cfg.train, rays, out.n_samples) if finite else rays
        self.step += 1
        stats = {"loss": float(loss.detach()), "lr": lr, "rays": rays, "samples": out.n_samples,
                 "skipped": 0 if finite else 1, "skipped_steps": self.skipped_steps}
        if self.bad_streak >= cfg.train.max_bad_steps:
            self._recover()
        return stats

    # -- validation ----------------------------------------------------------------------
    def validation_image(self) -> tuple[float, Tensor] | None:
        if self.val_split is None:
            return None
        split, cfg = self.val_split, self.cfg
        self.field.eval()
        bg = background_colour(cfg.data.eval_background)
        out = render_image(self.field, self.estimator, split.poses[0], split.width, split.height,
                           split.focal, bg, cfg.eval.chunk_rays)
        target = composite(split.images[0].float() / 255.0, bg)
        return psnr(out["rgb"], target), torch.cat([out["rgb"], target], dim=1)

    # -- the loop ------------------------------------------------------------------------
    def fit(self, writer=None, on_step=None) -> TrainResult:
        """Train until the budget is spent. ``on_step(trainer, stats)``, if given, runs after
        every step (after its checkpoint); its time is not counted in ``elapsed_s``."""
        cfg = self.cfg.train
        handlers = self._install_signal_handlers()
        bar = tqdm(total=cfg.max_steps, initial=self.step, desc=self.cfg.name, disable=self.quiet,
                   dynamic_ncols=True)
        window = {"loss": 0.0, "good": 0, "rays": 0, "samples": 0, "n": 0, "time": 0.0}
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
                if not stats["skipped"]:
                    window["loss"] += stats["loss"]
                    window["good"] += 1
                window["rays"] += stats["rays"]
                window["samples"] += stats["samples"]
                window["n"] += 1
                window["time"] += dt
                bar.update(self.step - bar.n)  # a restore after numerical faults moves back
                if self.step % cfg.log_every == 0 or self.step == cfg.max_steps:
                    self._log(window, stats, bar, writer)
                    window = {k: 0 * v for k, v in window.items()}
                if cfg.val_every > 0 and self.step % cfg.val_every == 0 and writer is not None:
                    t1 = time.perf_counter()
                    val = self.validation_image()
                    if val is not None:
                        writer.add_scalar("val/psnr", val[0], self.step)
                        writer.add_image("val/render_vs_gt", val[1], self.step, dataformats="HWC")
                    self.elapsed_s += time.perf_counter() - t1
                if self.step % cfg.checkpoint_every == 0 and self.bad_streak == 0:
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
                           self.stop_signal, self.skipped_steps)

    def _log(self, window: dict, stats: dict, bar, writer) -> None:
        loss = window["loss"] / window["good"] if window["good"] else math.nan
        rays_s = window["rays"] / max(window["time"], 1e-9)
        spr = window["samples"] / max(window["rays"], 1)
        postfix = {"loss": f"{loss:.4f}", "psnr": f"{psnr_from_mse(loss):.2f}",
                   "rays_s": f"{rays_s:.0f}", "spr": f"{spr:.1f}"}
        if self.cfg.train.max_minutes > 0:  # the wall-time budget usually ends the run, not max_steps
            postfix["min"] = f"{self.elapsed_s / 60:.1f}/{self.cfg.train.max_minutes:g}"
        bar.set_postfix(postfix)
        if writer is None:
            return
        scalars = {"train/loss": loss, "train/psnr": psnr_from_mse(loss), "train/lr": stats["lr"],
                   "train/samples_per_ray": spr, "train/rays_per_s": rays_s,
                   "train/samples_per_s": window["samples"] / max(window["time"], 1e-9),
                   "train/rays_per_step": stats["rays"],
                   "train/occupied_fraction": getattr(self.estimator, "occupied_fraction", math.nan),
                   "train/elapsed_min": self.elapsed_s / 60.0,
                   "train/skipped_steps": self.skipped_steps, "train/lr_scale": self.lr_scale}
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


def train(cfg: Config, resume_dir: str | Path | None = None, force: bool = False,
          quiet: bool = False, on_step=None) -> TrainResult:
    """Create (or resume) a run directory and train; returns where it went and how far."""
    from torch.utils.tensorboard import SummaryWriter

    ctx = init_from_env(cfg.train.device)
    main = ctx is None or ctx.is_main
    if resume_dir is not None:
        run_dir = Path(resume_dir)
        read_run_config(run_dir)  # checks it is a run
        trainer = Trainer(cfg, run_dir, resume=True, quiet=quiet, dist_ctx=ctx)
    else:
        if main:
            check_new_run_dir(cfg, force=force)
        trainer = Trainer(cfg, None, quiet=quiet, dist_ctx=ctx)  # reads the dataset before anything is written
        run_dir = create_run_dir(cfg, force=force) if main else Path(cfg.output_dir) / cfg.name
        trainer.run_dir = run_dir
        barrier()
    writer = None
    if main:
        try:
            writer = SummaryWriter(str(run_dir / "tb"))
        except OSError as exc:
            raise OutputError(f"cannot write TensorBoard logs to {run_dir / 'tb'} ({describe_os_error(exc)})") from None
    try:
        result = trainer.fit(writer, on_step=on_step)
        if ctx is not None:
            in_sync = weights_in_sync(trainer.field, trainer.device)
            if main:
                print(f"data parallel: {ctx.world_size} ranks, weights identical across ranks: {in_sync}")
            barrier()
    finally:
        if writer is not None:
            writer.close()
        if ctx is not None:
            shutdown()
    return result
