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
and skips the pass while it predicts no saving. Decisions depend on counts only, so a run is
reproducible and its state is saved with the checkpoint.
"""

from __future__ import annotations

import torch

QUERY_COST = 0.5
MODES = ("auto", "adaptive", "separate", "fused", "none")


def resolve_mode(mode: str, device: torch.device | str) -> str:
    """``auto`` -> ``adaptive`` on the CPU, ``separate`` on a GPU (whose gradient-free pass over
    every sample is one kernel launch, and skipping it saves little)."""
    if mode not in MODES:
        raise ValueError(f"early stop mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode != "auto":
        return mode
    return "adaptive" if torch.device(device).type == "cpu" else "separate"


def separate_pass_cost(evaluated: float, kept: float, query_cost: float = QUERY_COST) -> float:
    """Predicted cost per traversed sample of a step with the separate pass, q V/A + K/A,
    from the fractions V/A (``evaluated``) and K/A (``kept``); a step without it costs 1."""
    return query_cost * evaluated + kept


class EarlyStopPolicy:
    """Chooses ``separate`` or ``none`` for each step (or always the configured fixed mode)."""

    def __init__(self, mode: str, probe_every: int = 16, decay: float = 0.8):
        self.mode, self.probe_every, self.decay = mode, probe_every, decay
        self.evaluated = self.kept = None  # running averages of V/A and K/A
        self.since_probe = 0

    def choose(self) -> str:
        if self.mode != "adaptive":
            return self.mode
        if self.kept is None or self.since_probe >= self.probe_every:
            return "separate"
        return "separate" if separate_pass_cost(self.evaluated, self.kept) < 1.0 else "none"

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
        return {"evaluated": self.evaluated, "kept": self.kept, "since_probe": self.since_probe}

    def load_state_dict(self, state: dict) -> None:
        self.evaluated, self.kept = state.get("evaluated"), state.get("kept")
        self.since_probe = int(state.get("since_probe", 0))
