"""The training loop shared by the fit tasks: Adam, an exponential learning-rate decay,
curve points, RFF-CA's mask progress and AFE injections, a tqdm bar."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor, nn
from tqdm import tqdm

from nerfspec.config import RFFCAConfig
from nerfspec.errors import DivergedError


@dataclass
class FitSettings:
    """What every fit run needs: budget, optimiser, network, precision, seed, curve points."""

    steps: int = 2000
    lr: float = 1e-3
    lr_final_factor: float = 1.0  # lr at the end / lr (exponential decay)
    depth: int = 4
    width: int = 256
    features: int = 256
    precision: str = "auto"
    seed: int = 0
    curve_points: int = 10
    rffca: RFFCAConfig | None = None
    progress: bool = True


@dataclass
class Trace:
    """What a run leaves behind: curve points ({"step", "elapsed_s", metrics...}), the AFE
    injections ({"step", "freqs"}), the training seconds (evaluation excluded)."""

    curve: list[dict] = field(default_factory=list)
    afe: list[dict] = field(default_factory=list)
    train_s: float = 0.0


def curve_steps(steps: int, points: int) -> list[int]:
    """Steps after which a curve point is taken: ``points`` evenly spaced ends, the last = steps."""
    points = max(1, min(points, steps))
    return sorted({round(steps * (i + 1) / points) for i in range(points)})


def learning_rate(step: int, steps: int, lr: float, final_factor: float) -> float:
    """lr * final_factor^(step / steps): exponential decay to lr * final_factor at the end."""
    return lr * final_factor ** (step / max(steps, 1))


def train_regression(model: nn.Module, steps: int, lr: float,
                     batch: Callable[[int], tuple[Tensor, Tensor]],
                     loss_fn: Callable[[Tensor, Tensor], Tensor],
                     evaluate: Callable[[nn.Module], dict],
                     curve_points: int = 10, lr_final_factor: float = 1.0,
                     afe: Callable[[int, nn.Module], list | None] | None = None,
                     progress: bool = True, desc: str = "fit") -> Trace:
    """Minimise loss_fn(model(x), y) over ``batch(step)`` with Adam for ``steps`` steps.

    Before each step an RFF-CA model gets its training fraction (``set_fraction``) and
    ``afe(step, model)`` may inject tokens (returning the frequencies, logged in the trace).
    After the steps of ``curve_steps`` ``evaluate(model)`` adds a curve point (no gradients).
    A non-finite loss raises ``DivergedError``.
    """
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    marks = set(curve_steps(steps, curve_points))
    trace = Trace()
    bar = tqdm(range(steps), desc=desc, disable=not progress, dynamic_ncols=True, leave=False)
    for step in bar:
        t0 = time.perf_counter()
        if hasattr(model, "set_fraction"):
            model.set_fraction(step / steps)
        if afe is not None:
            injected = afe(step, model)
            if injected is not None and len(injected):
                trace.afe.append({"step": step, "freqs": [[float(v) for v in f] for f in injected]})
        for g in opt.param_groups:
            g["lr"] = learning_rate(step, steps, lr, lr_final_factor)
        x, y = batch(step)
        loss = loss_fn(model(x), y)
        if not math.isfinite(float(loss.detach())):
            raise DivergedError(f"{desc}: non-finite loss at step {step}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        trace.train_s += time.perf_counter() - t0
        if step + 1 in marks:
            model.eval()
            with torch.no_grad():
                point = {"step": step + 1, "elapsed_s": trace.train_s, "loss": float(loss), **evaluate(model)}
            model.train()
            trace.curve.append(point)
            bar.set_postfix({k: f"{v:.3g}" for k, v in point.items() if k in ("test_psnr", "iou")})
    return trace
