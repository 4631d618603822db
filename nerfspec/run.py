"""Run directories: the resolved config, atomic checkpoints, and loading a trained run.

Layout of ``outputs/<name>/``: ``config.toml`` (reproduces the run), ``checkpoints/ckpt_*.pt``
(the newest few), ``tb/`` (TensorBoard), and what eval / render / mesh write.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from nerfspec.config import Config, ConfigError, config_from_dict, config_to_dict, dump_toml, read_toml
from nerfspec.errors import NerfspecError
from nerfspec.fields import RadianceField, build_field
from nerfspec.render.sampling import build_estimator

CONFIG_NAME = "config.toml"
CHECKPOINT_DIR = "checkpoints"


def pick_device(name: str) -> torch.device:
    """``auto`` -> cuda when available, else cpu."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise NerfspecError("train.device is 'cuda' but no CUDA device is available")
    return torch.device(name)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder and rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_torch_save(obj: object, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def create_run_dir(cfg: Config, force: bool = False) -> Path:
    """``output_dir/name``, new; an existing run is only replaced with ``force``."""
    run_dir = Path(cfg.output_dir) / cfg.name
    if run_dir.exists():
        if not force:
            raise NerfspecError(f"{run_dir}: run directory exists; use --resume {run_dir} to continue "
                                "it, --force to replace it, or --set name=<new name>")
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    atomic_write_bytes(run_dir / CONFIG_NAME, dump_toml(config_to_dict(cfg)).encode())
    return run_dir


def read_run_config(run_dir: str | Path) -> Config:
    run_dir = Path(run_dir)
    path = run_dir / CONFIG_NAME
    if not run_dir.is_dir():
        raise NerfspecError(f"{run_dir}: run directory not found")
    if not path.is_file():
        raise NerfspecError(f"{run_dir}: not a run directory (no {CONFIG_NAME})")
    try:
        return config_from_dict(read_toml(path))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def checkpoint_paths(run_dir: Path) -> list[Path]:
    """Checkpoints of a run, newest first."""
    return sorted((run_dir / CHECKPOINT_DIR).glob("ckpt_*.pt"), reverse=True)


def save_checkpoint(run_dir: Path, state: dict, step: int, keep: int = 2) -> Path:
    """Write ``ckpt_<step>.pt`` atomically, then drop all but the newest ``keep``."""
    path = run_dir / CHECKPOINT_DIR / f"ckpt_{step:08d}.pt"
    atomic_torch_save(state, path)
    for old in checkpoint_paths(run_dir)[keep:]:
        old.unlink(missing_ok=True)
    return path


def load_checkpoint(run_dir: Path, device: torch.device) -> dict | None:
    """The newest readable checkpoint (None if the run has none); a corrupt one is reported
    and the previous one used."""
    for path in checkpoint_paths(run_dir):
        try:
            state = torch.load(path, map_location=device, weights_only=False)
            if not isinstance(state, dict) or "field" not in state:
                raise ValueError("not a nerfspec checkpoint")
            return state
        except Exception as exc:  # truncated zip, unpickling errors, ...
            print(f"warning: {path}: unreadable checkpoint ({type(exc).__name__}); trying the previous one",
                  file=sys.stderr)
    if checkpoint_paths(run_dir):
        raise NerfspecError(f"{run_dir / CHECKPOINT_DIR}: no readable checkpoint")
    return None


def load_state(module: nn.Module, state: dict, what: str, where: Path) -> None:
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise NerfspecError(f"{where}: checkpoint does not match the configured {what} ({first})") from None


@dataclass
class LoadedRun:
    run_dir: Path
    cfg: Config
    field: RadianceField
    estimator: nn.Module
    step: int
    device: torch.device


def build_models(cfg: Config, device: torch.device) -> tuple[RadianceField, nn.Module]:
    aabb = torch.tensor(cfg.data.aabb, dtype=torch.float32)
    field = build_field(cfg.field, aabb, cfg.train.seed).to(device)
    estimator = build_estimator(aabb, cfg.sampler, device)
    return field, estimator


def load_run(run_dir: str | Path, device: str = "auto") -> LoadedRun:
    """A trained run's field and occupancy grid from its newest checkpoint, in eval mode."""
    run_dir = Path(run_dir)
    cfg = read_run_config(run_dir)
    dev = pick_device(device)
    field, estimator = build_models(cfg, dev)
    state = load_checkpoint(run_dir, dev)
    if state is None:
        raise NerfspecError(f"{run_dir}: run has no checkpoint yet")
    load_state(field, state["field"], f"field ({cfg.field.encoding})", run_dir)
    load_state(estimator, state["estimator"], "occupancy grid", run_dir)
    field.eval()
    return LoadedRun(run_dir, cfg, field, estimator, int(state["step"]), dev)
