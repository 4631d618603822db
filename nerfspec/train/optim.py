"""The optimiser: Adam over the field's parameter groups, each with its own base rate, and an
update that a non-finite step skips without a host synchronisation."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nerfspec.config import TrainConfig


def group_rates(cfg: TrainConfig) -> dict[str, float]:
    """Base learning rate of each parameter group: ``train.lr_encoding`` for learned encodings
    (hash tables; 0 means ``train.lr``), ``train.lr`` for the networks."""
    return {"encoding": cfg.lr_encoding if cfg.lr_encoding > 0 else cfg.lr, "network": cfg.lr}


def build_optimizer(field: nn.Module, cfg: TrainConfig) -> torch.optim.Adam:
    """Adam (eps 1e-15) with one group per ``field.param_groups()`` entry; weight decay on the
    networks only. The fused kernel is used so that ``step_unless_nonfinite`` can skip a step
    on the device."""
    rates = group_rates(cfg)
    groups = []
    for g in field.param_groups():
        name = g["name"]
        groups.append({"params": g["params"], "name": name, "base_lr": rates[name], "lr": rates[name],
                       "weight_decay": cfg.weight_decay if name == "network" else 0.0})
    return torch.optim.Adam(groups, eps=1e-15, fused=True)


def set_learning_rates(optimizer: torch.optim.Optimizer, factor: float) -> None:
    """lr of every group <- its base rate times ``factor`` (the schedule and fault scale)."""
    for group in optimizer.param_groups:
        group["lr"] = group["base_lr"] * factor


def step_unless_nonfinite(optimizer: torch.optim.Optimizer, finite: Tensor) -> None:
    """Adam step where ``finite`` (a () bool tensor) holds; otherwise parameters, moments and
    step counts stay as they were. The decision stays on the device (the fused kernel reads
    it as ``found_inf``), so the host never waits for the step's numbers."""
    optimizer.found_inf = (~finite).float()
    try:
        optimizer.step()
    finally:
        optimizer.found_inf = None
