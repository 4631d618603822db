"""When a training step pays for a separate early-stop pass, decided from counts it has seen.

A separate pass evaluates densities without gradients, front to back, so that colours and
gradients are computed only for the samples that can contribute. Per traversed sample it costs

    separate: q V/A + K/A        none: 1

in units of one forward-and-backward field evaluation, with A the samples in occupied cells,
V those the pass evaluates, K those it keeps and q the cost of a gradient-free density query
next to a forward-and-backward one (about 0.45 measured on CPUs for the 4x256 MLP; 0.5 keeps
a margin). Early in training nothing is opaque yet, V = A ~ K and the pass is pure overhead;
once surfaces are sharp it drops a third of the samples and pays. The adaptive policy runs the
pass at least every ``probe_every`` steps, keeps an average of V/A and K/A from those steps,
and skips the pass while it predicts no saving. Given q, decisions depend on counts only, so a
run is reproducible; its state, q included, is saved with the checkpoint.

On a GPU q is not assumed: the trainer measures it on the device when a run starts
(``measure_query_cost``: the field's gradient-free density and its forward and backward pass
over one batch of points, timed with the device synchronised), since launches, atomics and
memory traffic weigh differently there than on a CPU.
"""

from __future__ import annotations

import statistics
import time
from typing import Callable

import torch
from torch import Tensor

QUERY_COST = 0.5
MODES = ("auto", "adaptive", "separate", "fused", "none")


def resolve_mode(mode: str) -> str:
    """``auto`` -> ``adaptive`` (on every device; its q is the device's, ``policy_for``)."""
    if mode not in MODES:
        raise ValueError(f"early stop mode must be one of {', '.join(MODES)}, got {mode!r}")
    return "adaptive" if mode == "auto" else mode


def policy_for(mode: str, device: torch.device | str, measure: Callable[[], float]) -> "EarlyStopPolicy":
    """The policy for configured ``mode`` on ``device``: adaptive for ``auto``, with q =
    ``QUERY_COST`` on the CPU and ``measure()`` (the device's own, e.g. ``measure_query_cost``)
    on any other device; fixed modes need no q."""
    mode = resolve_mode(mode)
    if mode != "adaptive" or torch.device(device).type == "cpu":
        return EarlyStopPolicy(mode)
    return EarlyStopPolicy(mode, query_cost=measure())


def measure_query_cost(query: Callable[[], object], train_pass: Callable[[], object],
                       sync: Callable[[], None] = lambda: None, repeats: int = 5) -> float:
    """q = t(query) / t(train_pass), each the median of ``repeats`` timed calls after an untimed
    one (kernels loaded, allocator sized); ``sync`` waits for the device before each clock read
    (``torch.cuda.synchronize`` on a GPU, where calls return before their kernels finish)."""

    def median_seconds(fn) -> float:
        fn()
        times = []
        for _ in range(repeats):
            sync()
            t0 = time.perf_counter()
            fn()
            sync()
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    return median_seconds(query) / max(median_seconds(train_pass), 1e-9)


def field_query_cost(field, aabb: Tensor, n_points: int, generator: torch.Generator | None = None) -> float:
    """``measure_query_cost`` of ``field`` (density (N,) and field(points, dirs) -> sigma, rgb)
    over ``n_points`` uniform points in ``aabb`` (6,) with random unit directions, on the
    field's device; the gradients it leaves are cleared."""
    device = aabb.device
    u = torch.rand(n_points, 3, generator=generator, device=device)
    points = aabb[:3] + u * (aabb[3:] - aabb[:3])
    dirs = torch.nn.functional.normalize(torch.randn(n_points, 3, generator=generator, device=device), dim=-1)

    def query():
        with torch.no_grad():
            field.density(points)

    def train_pass():
        sigma, rgb = field(points, dirs)
        (sigma.float().sum() + rgb.float().sum()).backward()

    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    q = measure_query_cost(query, train_pass, sync)
    field.zero_grad(set_to_none=True)
    return q


def separate_pass_cost(evaluated: float, kept: float, query_cost: float = QUERY_COST) -> float:
    """Predicted cost per traversed sample of a step with the separate pass, q V/A + K/A,
    from the fractions V/A (``evaluated``) and K/A (``kept``); a step without it costs 1."""
    return query_cost * evaluated + kept


class EarlyStopPolicy:
    """Chooses ``separate`` or ``none`` for each step (or always the configured fixed mode)."""

    def __init__(self, mode: str, probe_every: int = 16, decay: float = 0.8, query_cost: float = QUERY_COST):
        self.mode, self.probe_every, self.decay = mode, probe_every, decay
        self.query_cost = query_cost  # q of the cost model, the device's
        self.evaluated = self.kept = None  # running averages of V/A and K/A
        self.since_probe = 0

    def choose(self) -> str:
        if self.mode != "adaptive":
            return self.mode
        if self.kept is None or self.since_probe >= self.probe_every:
            return "separate"
        return "separate" if separate_pass_cost(self.evaluated, self.kept, self.query_cost) < 1.0 else "none"

    def observe(self, mode: str, traversed: int, evaluated: int, kept: int) -> None:
        """Counts of the step just taken in ``mode``."""
        if mode != "separate" or traversed <= 0:
            self.since_probe += 1
            return
        v, k = evaluated / traversed, kept / traversed
        if self.kept is None:
            self.evaluated, self.kept = v, k
        else:
            self.evaluated = self.decay * self.evaluated + (1 - self.decay) * v
            self.kept = self.decay * self.kept + (1 - self.decay) * k
        self.since_probe = 0

    def state_dict(self) -> dict:
        return {"evaluated": self.evaluated, "kept": self.kept, "since_probe": self.since_probe,
                "query_cost": self.query_cost}

    def load_state_dict(self, state: dict) -> None:
        """Counts and q as saved (a checkpoint without q keeps this policy's)."""
        self.evaluated, self.kept = state.get("evaluated"), state.get("kept")
        self.since_probe = int(state.get("since_probe", 0))
        self.query_cost = float(state.get("query_cost", self.query_cost))
