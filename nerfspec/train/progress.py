"""What a run reports while it trains: a window of step statistics kept as device tensors, the
progress bar and the TensorBoard scalars written from it every ``train.log_every`` steps."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from nerfspec.metrics import psnr_from_mse


class StatsWindow:
    """Sums over the steps since the last log: loss of the good steps (a device tensor, so
    adding a step's loss does not wait for it), good steps, rays, samples, seconds."""

    def __init__(self, device: torch.device):
        self.device = device
        self.reset()

    def reset(self) -> None:
        self.loss = torch.zeros((), dtype=torch.float64, device=self.device)
        self.good = torch.zeros((), dtype=torch.long, device=self.device)
        self.rays = self.samples = self.steps = 0
        self.seconds = 0.0

    def add(self, loss: Tensor, finite: Tensor, rays: int, samples: int, seconds: float) -> None:
        self.loss += torch.where(finite, loss.detach().double(), torch.zeros_like(self.loss))
        self.good += finite.long()
        self.rays += rays
        self.samples += samples
        self.steps += 1
        self.seconds += seconds

    def summary(self) -> dict[str, float]:
        """Mean loss of the good steps (nan if none), PSNR, rays/s, samples/s, samples/ray.
        Reads the device tensors: one host sync."""
        good = int(self.good)
        loss = float(self.loss) / good if good else math.nan
        seconds = max(self.seconds, 1e-9)
        return {"loss": loss, "psnr": psnr_from_mse(loss), "rays_per_s": self.rays / seconds,
                "samples_per_s": self.samples / seconds,
                "samples_per_ray": self.samples / max(self.rays, 1)}


def bar_postfix(summary: dict, elapsed_s: float, max_minutes: float) -> dict[str, str]:
    """The progress bar's numbers; with a wall-time budget, the minutes spent of it."""
    postfix = {"loss": f"{summary['loss']:.4f}", "psnr": f"{summary['psnr']:.2f}",
               "rays_s": f"{summary['rays_per_s']:.0f}", "spr": f"{summary['samples_per_ray']:.1f}"}
    if max_minutes > 0:  # the wall-time budget usually ends the run, not max_steps
        postfix["min"] = f"{elapsed_s / 60:.1f}/{max_minutes:g}"
    return postfix


def training_scalars(summary: dict, lr: float, rays_per_step: int, occupied_fraction: float,
                     elapsed_s: float, skipped_steps: int, lr_scale: float) -> dict[str, float]:
    """The TensorBoard scalars of one log point (train/*)."""
    return {"train/loss": summary["loss"], "train/psnr": summary["psnr"], "train/lr": lr,
            "train/samples_per_ray": summary["samples_per_ray"],
            "train/rays_per_s": summary["rays_per_s"], "train/samples_per_s": summary["samples_per_s"],
            "train/rays_per_step": rays_per_step, "train/occupied_fraction": occupied_fraction,
            "train/elapsed_min": elapsed_s / 60.0, "train/skipped_steps": skipped_steps,
            "train/lr_scale": lr_scale}
