"""Numerical faults: count non-finite steps on the device, and decide (at sync points) when a run
must be restored from its last checkpoint at a lower learning rate, or stopped.

A step whose loss or gradient is not finite is skipped by the optimiser (train/optim.py). The
counters below stay tensors on the training device so a step never waits for the host; they are
read at sync points: every step on the CPU (a read costs nothing there) and every
``train.log_every`` steps on a GPU, so a streak of bad steps is acted on at most that late.
"""

from __future__ import annotations

import torch
from torch import Tensor


class FaultCounter:
    """Skipped steps in total and in the current run of bad steps, as () long tensors."""

    def __init__(self, device: torch.device, skipped: int = 0):
        self.skipped = torch.tensor(skipped, device=device)
        self.streak = torch.zeros((), dtype=torch.long, device=device)

    def record(self, finite: Tensor) -> None:
        """Count one step: streak <- 0 if ``finite`` else streak + 1 (no host sync)."""
        bad = (~finite).long()
        self.skipped += bad
        self.streak = (self.streak + 1) * bad

    def reset_streak(self) -> None:
        self.streak.zero_()


def sync_point(device: torch.device, step: int, every: int) -> bool:
    """Whether the trainer reads its device counters at ``step``: always on the CPU, every
    ``every`` steps elsewhere."""
    return device.type == "cpu" or step % every == 0


def restore_warning(bad: int, at: int, restored_step: int, source: str, lr_scale: float,
                    restores: int, max_restores: int) -> str:
    return (f"warning: {bad} steps in a row with a non-finite loss or gradient at step {at}; "
            f"restored step {restored_step} from {source} and halved the learning rate "
            f"(scale {lr_scale:g}, restore {restores} of {max_restores})")


def diverged_message(bad: int, step: int, restores: int, max_restores: int, lr: float,
                     newest_checkpoint: str | None) -> str:
    where = f"last good checkpoint: {newest_checkpoint}" if newest_checkpoint else "no checkpoint was written"
    return (f"training diverged: {bad} steps in a row with a non-finite loss or gradient "
            f"at step {step}, after {restores} restores with the learning rate halved "
            f"each time (train.max_restores = {max_restores}); lower train.lr "
            f"(now {lr:g}) or check the data; {where}")
