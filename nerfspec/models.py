"""A run's models: the field and the occupancy grid built from a config on a device, and loaded
from a checkpoint on whatever device is at hand.

A checkpoint holds the same tensors whichever device trained it (the grid's state is defined
once, in render/grid.py), so a run trained on a GPU evaluates, renders, meshes and resumes on
the CPU and the other way round: tensors are mapped to the loading device, and a grid saved
in nerfacc's ``OccGridEstimator`` layout is converted on load.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from nerfspec.config import Config
from nerfspec.errors import CheckpointError, NerfspecError
from nerfspec.fields import FieldBase, build_field
from nerfspec.fields.appearance import Appearance
from nerfspec.fields.background import build_background
from nerfspec.poses.correction import PoseCorrections
from nerfspec.render.grid import (OccupancyGrid, build_estimator, is_nerfacc_state, sampler_for_scene,
                                  state_from_nerfacc)
from nerfspec.run import load_checkpoint, read_run_config


def pick_device(name: str) -> torch.device:
    """``auto`` -> cuda when available, else cpu."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise NerfspecError("device 'cuda' was asked for but no CUDA device is available")
    return torch.device(name)


def build_models(cfg: Config, device: torch.device) -> tuple[FieldBase, OccupancyGrid]:
    """The field and the occupancy grid of ``cfg`` on ``device`` (random parts from train.seed).
    An unbounded scene (``data.scene``; auto, not yet resolved from the data, counts as an
    object) gets a contracting field and the grid's cascades and cone angle."""
    aabb = torch.tensor(cfg.data.aabb, dtype=torch.float32)
    unbounded = cfg.data.scene == "unbounded"
    field = build_field(cfg.field, aabb, cfg.train.seed, unbounded=unbounded).to(device)
    estimator = build_estimator(aabb, sampler_for_scene(cfg.sampler, unbounded), device)
    return field, estimator


def build_background_model(cfg: Config, device: torch.device) -> nn.Module | None:
    """The learned background of ``cfg.background`` on ``device`` (random weights from
    train.seed), or None where the run composites on fixed colours."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.train.seed + 1)
        module = build_background(cfg.background)
    return None if module is None else module.to(device)


def check_encoding(state: dict, cfg: Config, where: Path) -> None:
    """A checkpoint of one input mapping cannot be loaded into a field of another."""
    saved = state.get("encoding", cfg.field.encoding)
    if saved != cfg.field.encoding:
        raise CheckpointError(f"{where}: checkpoint holds a {saved!r} field but the config asks for "
                              f"field.encoding = {cfg.field.encoding!r}; use the run's own config.toml "
                              "or start a new run")


def load_state(module: nn.Module, state: dict, what: str, where: Path) -> None:
    """``module.load_state_dict(state)``, with a one-line ``CheckpointError`` on a mismatch."""
    try:
        module.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(f"{where}: checkpoint does not match the configured {what} "
                              f"({first[:200]}); was config.toml edited after training?") from None


def load_estimator_state(estimator: OccupancyGrid, state: dict, where: Path) -> None:
    """Load a grid state saved by any device, including nerfacc's ``OccGridEstimator`` layout."""
    if is_nerfacc_state(state):
        try:
            converted = state_from_nerfacc(state)
        except (KeyError, ValueError) as exc:
            raise CheckpointError(f"{where}: checkpoint's occupancy grid cannot be read ({exc})") from None
        if "carved" in state:  # saved beside nerfacc's own buffers
            converted["carved"] = converted["carved"] | state["carved"].bool().to(converted["carved"].device)
        state = converted
    load_state(estimator, state, "occupancy grid", where)


@dataclass
class LoadedRun:
    run_dir: Path
    cfg: Config
    field: FieldBase
    estimator: OccupancyGrid
    step: int
    device: torch.device
    background: nn.Module | None = None  # a learned background (ray direction -> colour), if the run has one
    appearance: Appearance | None = None  # the training images' colour responses, if the run learned them
    poses: PoseCorrections | None = None  # the training cameras' learned corrections, if the run refined them


def load_run(run_dir: str | Path, device: str = "auto") -> LoadedRun:
    """A trained run's field and occupancy grid from its newest checkpoint, on ``device``
    (whichever device trained it), in eval mode."""
    run_dir = Path(run_dir)
    cfg = read_run_config(run_dir)
    dev = pick_device(device)
    field, estimator = build_models(cfg, dev)
    state = load_checkpoint(run_dir, dev)
    if state is None:
        raise NerfspecError(f"{run_dir}: run has no checkpoint yet")
    check_encoding(state, cfg, run_dir)
    load_state(field, state["field"], f"field ({cfg.field.encoding})", run_dir)
    load_estimator_state(estimator, state["estimator"], run_dir)
    background = build_background_model(cfg, dev)
    if background is not None:
        load_state(background, state.get("background", {}), f"background ({cfg.background.model})", run_dir)
        background.eval()
    appearance = None
    if "appearance" in state:
        appearance = Appearance(state["appearance"]["offset"].shape[0]).to(dev)
        load_state(appearance, state["appearance"], "per-image appearance", run_dir)
    poses = None
    if "poses" in state:
        poses = PoseCorrections(state["poses"]["twists"].shape[0], state["poses"]["centre"],
                                cfg.train.pose_frame).to(dev)
        load_state(poses, state["poses"], "camera pose corrections", run_dir)
    saved_on = state.get("device")
    if saved_on is not None and saved_on != dev.type:
        print(f"note: {run_dir.name} was trained on {saved_on}; loaded on {dev.type}", file=sys.stderr)
    field.eval()
    return LoadedRun(run_dir, cfg, field, estimator, int(state["step"]), dev, background, appearance, poses)
