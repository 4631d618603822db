"""The optimiser: Adam over the field's parameter groups, each with its own base rate, and an
update that a non-finite step skips without a host synchronisation.

The groups come from ``field.param_groups()``: "encoding" (learned encodings, e.g. hash tables)
and "network", plus "background" for a learned background. Both run in one fused Adam (eps 1e-15) whose kernel reads the step's finiteness
as ``found_inf`` on the device. With ``train.lazy_tables`` (the CPU's default) the encoding
group runs in ``LazyAdam`` instead, which updates only the table entries a step touched (a
batch touches a small share of the rows, and a dense step reads and writes every row four
times); it checks finiteness on the host, which costs nothing on the CPU.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nerfspec.config import TrainConfig
from nerfspec.train.lazy_adam import LazyAdam


def group_rates(cfg: TrainConfig) -> dict[str, float]:
    """Base learning rate of each parameter group: ``train.lr_encoding`` for learned encodings
    (hash tables; 0 means ``train.lr``), ``train.lr`` for the networks and a learned background."""
    return {"encoding": cfg.lr_encoding if cfg.lr_encoding > 0 else cfg.lr, "network": cfg.lr,
            "background": cfg.lr, "appearance": cfg.lr, "poses": cfg.pose_lr}


def lazy_tables(cfg: TrainConfig, device: torch.device | str) -> bool:
    """Whether the encoding group runs in LazyAdam: ``train.lazy_tables`` auto -> on the CPU."""
    if cfg.lazy_tables == "auto":
        return torch.device(device).type == "cpu"
    return cfg.lazy_tables == "on"


class FieldOptimizer:
    """One or two Adam optimisers behind the optimiser interface the trainer uses
    (``param_groups``, ``state``, ``zero_grad``, ``step``, ``state_dict``, ``load_state_dict``).
    ``found_inf`` (a () float tensor, or None) set before ``step`` skips the step when nonzero."""

    def __init__(self, parts: list[torch.optim.Optimizer]):
        self.parts = parts
        self.found_inf: Tensor | None = None

    @property
    def param_groups(self) -> list[dict]:
        return [g for part in self.parts for g in part.param_groups]

    @property
    def state(self) -> dict:
        return {p: s for part in self.parts for p, s in part.state.items()}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for part in self.parts:
            part.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for part in self.parts:
            if isinstance(part, LazyAdam):
                if self.found_inf is None or not bool(self.found_inf):
                    part.step()
            else:
                part.found_inf = self.found_inf
                try:
                    part.step()
                finally:
                    part.found_inf = None

    def state_dict(self) -> dict:
        return {"parts": [part.state_dict() for part in self.parts]}

    def load_state_dict(self, state: dict) -> None:
        """Load a state written by ``state_dict``, or a single optimiser's (older runs), even
        when the groups were split differently (a CPU run's LazyAdam tables resumed on a GPU):
        each parameter's moments and step count follow it by group name."""
        saved = state["parts"] if "parts" in state else [state]
        moments = per_group_states(saved)
        for part in self.parts:
            lazy = isinstance(part, LazyAdam)
            own = part.state_dict()
            own["state"] = {}
            index = 0
            for group in own["param_groups"]:
                queue = moments.get(group.get("name", "network"), [])
                for idx in group["params"]:
                    if len(queue) < 1:
                        raise ValueError(f"the checkpoint has no optimiser state for a parameter of "
                                         f"group {group.get('name', 'network')!r}")
                    entry = dict(queue.pop(0))
                    if entry:
                        step = float(entry["step"])
                        entry["step"] = int(step) if lazy else torch.tensor(step)
                        own["state"][idx] = entry
                    index += 1
            part.load_state_dict(own)
        leftover = {name: len(q) for name, q in moments.items() if q}
        if leftover:
            raise ValueError(f"the checkpoint's optimiser holds parameters the field does not have ({leftover})")


def per_group_states(saved: list[dict]) -> dict[str, list[dict]]:
    """{group name: [per-parameter state ({} where it has none), in order]} of saved optimiser
    state dicts (a group without a name is the network's)."""
    out: dict[str, list[dict]] = {}
    for part in saved:
        for group in part["param_groups"]:
            queue = out.setdefault(group.get("name", "network"), [])
            queue.extend(part["state"].get(idx, {}) for idx in group["params"])
    return out


def build_optimizer(field: nn.Module, cfg: TrainConfig, device: torch.device | str = "cpu",
                    background: nn.Module | None = None, appearance: nn.Module | None = None,
                    extra_groups: list[dict] = ()) -> FieldOptimizer:
    """Adam (eps 1e-15) with one group per ``field.param_groups()`` entry (and a "background"
    group for a learned ``background``, "appearance" for the images' responses, and
    ``extra_groups`` such as the camera corrections' "poses"), each remembering its
    ``base_lr``; weight decay on the field's networks only; the encoding group in LazyAdam
    where ``lazy_tables`` says so."""
    rates = group_rates(cfg)
    dense, lazy = [], []
    groups = list(field.param_groups())
    if background is not None:
        groups.append({"name": "background", "params": list(background.parameters())})
    if appearance is not None:
        groups.append({"name": "appearance", "params": list(appearance.parameters())})
    groups.extend(extra_groups)
    for g in groups:
        name = g["name"]
        group = {"params": g["params"], "name": name, "base_lr": rates[name], "lr": rates[name]}
        if name == "encoding" and lazy_tables(cfg, device):
            lazy.append(group)
        else:
            group["weight_decay"] = cfg.weight_decay if name == "network" else 0.0
            dense.append(group)
    parts: list[torch.optim.Optimizer] = []
    if dense:
        parts.append(torch.optim.Adam(dense, eps=1e-15, fused=True))
    if lazy:
        parts.append(LazyAdam(lazy, eps=1e-15, betas=(0.9, 0.999)))
    return FieldOptimizer(parts)


def set_learning_rates(optimizer: FieldOptimizer, factor: float, own: dict[str, float] | None = None) -> None:
    """lr of every group <- its base rate times ``factor`` (the schedule and fault scale), or
    the rate ``own`` names for it (a group with a schedule of its own)."""
    own = own or {}
    for group in optimizer.param_groups:
        group["lr"] = own.get(group.get("name"), group["base_lr"] * factor)


def step_unless_nonfinite(optimizer: FieldOptimizer, finite: Tensor) -> None:
    """Adam step where ``finite`` (a () bool tensor) holds; otherwise parameters, moments and
    step counts stay as they were. The fused kernel reads the decision on the device as
    ``found_inf``, so the host never waits for the step's numbers."""
    optimizer.found_inf = (~finite).float()
    try:
        optimizer.step()
    finally:
        optimizer.found_inf = None
