"""The training loop: random rays from all training images -> render -> MSE -> Adam."""

from __future__ import annotations

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
from nerfspec.errors import NerfspecError
from nerfspec.metrics import psnr, psnr_from_mse
from nerfspec.render.renderer import render_image, render_rays
from nerfspec.run import (
    build_models,
    create_run_dir,
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


class Trainer:
    """Holds the state of one run; ``fit()`` trains until the step or time budget is spent."""

    def __init__(self, cfg: Config, run_dir: Path, resume: bool = False, quiet: bool = False):
        self.cfg, self.run_dir, self.quiet = cfg, run_dir, quiet
        if cfg.train.threads > 0:
            torch.set_num_threads(cfg.train.threads)
        self.device = pick_device(cfg.train.device)
        self.train_split = load_blender_split(cfg.data.root, "train", cfg.data.downscale)
        self.val_split = None
        if cfg.train.val_every > 0:
            try:
                self.val_split = load_blender_split(cfg.data.root, "val", cfg.data.downscale)
            except NerfspecError as exc:
                print(f"note: no validation images ({exc})", file=sys.stderr)
        self.batcher = RayBatcher(self.train_split, self.device)
        self.field, self.estimator = build_models(cfg, self.device)
        self.optimizer = torch.optim.Adam(self.field.parameters(), lr=cfg.train.lr, eps=1e-15,
                                          weight_decay=cfg.train.weight_decay)
        self.generator = torch.Generator().manual_seed(cfg.train.seed)
        self.step, self.elapsed_s, self.rays = 0, 0.0, cfg.train.rays_per_step
        self.stop_requested = False
        if resume:
            self._restore()

    # -- checkpoints ---------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "field": self.field.state_dict(),
            "estimator": self.estimator.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": {"elapsed_s": self.elapsed_s, "rays": self.rays},
            "step": self.step,
            "rng": {"rays": self.generator.get_state(), "torch": torch.get_rng_state()},
            "encoding": self.cfg.field.encoding,
        }

    def _restore(self) -> None:
        state = load_checkpoint(self.run_dir, self.device)
        if state is None:
            print(f"note: {self.run_dir} has no checkpoint yet; starting at step 0", file=sys.stderr)
            return
        if state.get("encoding", self.cfg.field.encoding) != self.cfg.field.encoding:
            raise NerfspecError(f"{self.run_dir}: checkpoint holds a {state['encoding']!r} field, "
                                f"config asks for {self.cfg.field.encoding!r}")
        load_state(self.field, state["field"], "field", self.run_dir)
        load_state(self.estimator, state["estimator"], "occupancy grid", self.run_dir)
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = int(state["step"])
        self.elapsed_s = float(state["schedule"]["elapsed_s"])
        self.rays = int(state["schedule"]["rays"])
        self.generator.set_state(state["rng"]["rays"].cpu())
        torch.set_rng_state(state["rng"]["torch"].cpu())

    def save(self) -> Path:
        return save_checkpoint(self.run_dir, self.state_dict(), self.step)

    # -- one step ------------------------------------------------------------------------
    def train_step(self) -> dict[str, float]:
        cfg = self.cfg
        progress = run_progress(cfg.train, self.step, self.elapsed_s)
        lr = learning_rate(cfg.train, self.step, progress)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.field.set_progress(self.step, progress)
        self.field.train()
        self.estimator.update(self.step, self.field.density, self.generator)

        origins, dirs, rgba = self.batcher.sample(self.rays, self.generator)
        if cfg.data.train_background == "random":
            bg = torch.rand(origins.shape[0], 3, generator=self.generator).to(self.device)
        else:
            bg = background_colour(cfg.data.train_background, self.device)
        target = composite(rgba, bg)
        out = render_rays(self.field, self.estimator, origins, dirs, bg)
        loss = F.mse_loss(out.rgb, target)
        self.optimizer.zero_grad(set_to_none=True)
        if out.n_samples > 0:
            loss.backward()
            self.optimizer.step()
        rays = self.rays
        self.rays = next_ray_count(cfg.train, rays, out.n_samples)
        self.step += 1
        return {"loss": float(loss.detach()), "lr": lr, "rays": rays, "samples": out.n_samples}

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
        window = {"loss": 0.0, "rays": 0, "samples": 0, "n": 0, "time": 0.0}
        try:
            while self.step < cfg.max_steps and not self.stop_requested:
                if cfg.max_minutes > 0 and self.elapsed_s >= 60.0 * cfg.max_minutes:
                    break
                t0 = time.perf_counter()
                stats = self.train_step()
                dt = time.perf_counter() - t0
                self.elapsed_s += dt
                window["loss"] += stats["loss"]
                window["rays"] += stats["rays"]
                window["samples"] += stats["samples"]
                window["n"] += 1
                window["time"] += dt
                bar.update(1)
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
                if self.step % cfg.checkpoint_every == 0:
                    self.save()
                if on_step is not None:
                    on_step(self, stats)
        finally:
            bar.close()
            for sig, old in handlers.items():
                signal.signal(sig, old)
        self.save()
        return TrainResult(self.run_dir, self.step, self.elapsed_s, self.stop_requested)

    def _log(self, window: dict, stats: dict, bar, writer) -> None:
        n = max(window["n"], 1)
        loss = window["loss"] / n
        rays_s = window["rays"] / max(window["time"], 1e-9)
        spr = window["samples"] / max(window["rays"], 1)
        bar.set_postfix(loss=f"{loss:.4f}", psnr=f"{psnr_from_mse(loss):.2f}",
                        rays_s=f"{rays_s:.0f}", spr=f"{spr:.1f}")
        if writer is None:
            return
        scalars = {"train/loss": loss, "train/psnr": psnr_from_mse(loss), "train/lr": stats["lr"],
                   "train/samples_per_ray": spr, "train/rays_per_s": rays_s,
                   "train/samples_per_s": window["samples"] / max(window["time"], 1e-9),
                   "train/rays_per_step": stats["rays"],
                   "train/occupied_fraction": getattr(self.estimator, "occupied_fraction", math.nan),
                   "train/elapsed_min": self.elapsed_s / 60.0}
        scalars.update(self.field.scalars())
        for key, value in scalars.items():
            writer.add_scalar(key, value, self.step)

    def _install_signal_handlers(self) -> dict:
        def request_stop(signum, _frame):
            if self.stop_requested:  # a second Ctrl-C: stop now
                raise KeyboardInterrupt
            self.stop_requested = True

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

    if resume_dir is not None:
        run_dir = Path(resume_dir)
        read_run_config(run_dir)  # checks it is a run
    else:
        run_dir = create_run_dir(cfg, force=force)
    trainer = Trainer(cfg, run_dir, resume=resume_dir is not None, quiet=quiet)
    writer = SummaryWriter(str(run_dir / "tb"))
    try:
        result = trainer.fit(writer, on_step=on_step)
    finally:
        writer.close()
    return result
