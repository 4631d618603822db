"""Run directories on disk: the resolved config, what the run ran on, atomic checkpoints.

The names of a run's files and folders are ``nerfspec/run_layout.py``'s; ``config.toml``
reproduces the run, ``run_info.json`` (device, precision, kernels, threads, versions, dataset,
steps and wall time) is rewritten at every checkpoint, ``checkpoints/`` keeps the newest few.
Building models from a run is nerfspec/models.py's job.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import torch

from nerfspec.config import Config, ConfigError, apply_overrides, config_from_dict, config_to_dict, dump_toml, read_toml
from nerfspec.errors import CheckpointError, NerfspecError, OutputError
from nerfspec.run_layout import (
    CONFIG_NAME,
    checkpoint_dir,
    checkpoint_path,
    checkpoint_paths,
    config_path,
    is_run_dir,
    run_info_path,
)



def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def default_file_mode() -> int:
    """0o666 minus the process umask: the mode ``open()`` gives a new file (0o644 under the
    usual umask 022). Temporary files start at 0o600, so written files get this instead."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _atomic_write(path: Path, write) -> None:
    """``write(file)`` into a temporary file next to ``path``, fsync it, rename it over ``path``.

    A crash at any point leaves either the old ``path`` or the new one, never a mix; the
    temporary file is removed on failure (one left by ``kill -9`` starts with a dot and is
    cleaned up by the next checkpoint). The file gets the usual mode of new files.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, default_file_mode())
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file + rename)."""
    _atomic_write(path, lambda f: f.write(data))


def atomic_torch_save(obj: object, path: Path) -> None:
    """``torch.save`` to ``path`` atomically (temporary file + rename).

    The object is serialised in memory first: torch's writer turns a failed write into a
    RuntimeError, a plain file write keeps the OSError (and its errno, e.g. ENOSPC).
    """
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    _atomic_write(path, lambda f: f.write(buffer.getbuffer()))


def describe_os_error(exc: OSError) -> str:
    """``'<file>: <reason>'`` for an OSError, e.g. ``'ckpt.pt: No space left on device'``."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    where = exc.filename if exc.filename is not None else None
    return f"{where}: {reason}" if where is not None else reason


def check_new_run_dir(cfg: Config, force: bool = False) -> Path:
    """``output_dir/name`` if a new run may go there: it does not exist, or it is a run (a
    folder with config.toml) or an empty folder and ``force`` is set."""
    run_dir = Path(cfg.output_dir) / cfg.name
    if run_dir.exists():
        if not force:
            raise NerfspecError(f"{run_dir}: run directory exists; use --resume {run_dir} to continue "
                                "it, --force to replace it, or --set name=<new name>")
        if not run_dir.is_dir() or (any(run_dir.iterdir()) and not is_run_dir(run_dir)):
            # --force replaces runs, never a folder that holds something else
            raise NerfspecError(f"{run_dir}: exists and is not a run directory; --force only replaces "
                                "runs (choose another name with --set name=<new name>)")
    return run_dir


def create_run_dir(cfg: Config, force: bool = False) -> Path:
    """``output_dir/name``, new; an existing run is only replaced with ``force``."""
    run_dir = check_new_run_dir(cfg, force)
    try:
        if run_dir.exists():
            shutil.rmtree(run_dir)
        run_dir.mkdir(parents=True)
        write_run_config(run_dir, cfg)
    except OSError as exc:
        raise OutputError(f"cannot create run directory {run_dir} ({describe_os_error(exc)})") from None
    return run_dir


def write_run_config(run_dir: Path, cfg: Config) -> None:
    """The run's ``config.toml`` (atomically): what it trains with, resolved."""
    atomic_write_bytes(config_path(run_dir), dump_toml(config_to_dict(cfg)).encode())


def read_run_config(run_dir: str | Path) -> Config:
    run_dir = Path(run_dir)
    path = config_path(run_dir)
    if not run_dir.is_dir():
        raise NerfspecError(f"{run_dir}: run directory not found")
    if not path.is_file():
        raise NerfspecError(f"{run_dir}: not a run directory (no {CONFIG_NAME})")
    try:
        return config_from_dict(read_toml(path))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def resumed_config(run_dir: str | Path, overrides: list[str]) -> Config:
    """The run's own config with ``overrides`` (``KEY=VALUE``) applied: what a resumed run trains with."""
    return config_from_dict(apply_overrides(config_to_dict(read_run_config(run_dir)), overrides))


def save_checkpoint(run_dir: Path, state: dict, step: int, keep: int = 2) -> Path:
    """Write ``ckpt_<step>.pt`` atomically, then drop all but the newest ``keep``.

    An OSError (disk full, permissions) raises ``OutputError`` naming the checkpoint that
    is still intact; older checkpoints are only deleted once the new one is in place.
    """
    folder, path = checkpoint_dir(run_dir), checkpoint_path(run_dir, step)
    try:
        for stale in folder.glob(".ckpt_*.tmp"):  # left by a process killed mid-write
            stale.unlink(missing_ok=True)
        atomic_torch_save(state, path)
    except OSError as exc:
        previous = checkpoint_paths(run_dir) if folder.is_dir() else []
        kept = f"the last good checkpoint is {previous[0]}" if previous else "no earlier checkpoint exists"
        raise OutputError(f"cannot write checkpoint {path} ({exc.strerror or exc}); {kept}") from None
    for old in checkpoint_paths(run_dir)[keep:]:
        try:
            old.unlink(missing_ok=True)
        except OSError:
            pass  # an extra old checkpoint is harmless
    return path


def read_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict:
    """One checkpoint file; ``CheckpointError`` (naming the file) if it is truncated, corrupt
    or not a nerfspec checkpoint."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # truncated zip, bad pickle, wrong file type, ...
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: unreadable checkpoint, truncated or corrupt ({reason[:120]})") from None
    missing = [k for k in ("field", "estimator", "optimizer", "step") if not isinstance(state, dict) or k not in state]
    if missing:
        raise CheckpointError(f"{path}: not a nerfspec checkpoint (missing {', '.join(missing)})")
    return state


def load_checkpoint(run_dir: Path, device: torch.device) -> dict | None:
    """The newest readable checkpoint (None if the run has none). A truncated or corrupt one
    is reported on stderr and the previous one used; if none is readable, ``CheckpointError``
    names them all."""
    paths = checkpoint_paths(run_dir)
    problems = []
    for k, path in enumerate(paths):
        try:
            state = read_checkpoint(path, device)
        except CheckpointError as exc:
            problems.append(str(exc))
            fallback = f"using the previous one, {paths[k + 1].name}" if k + 1 < len(paths) else "no older one"
            print(f"warning: {exc}; {fallback}", file=sys.stderr)
            continue
        return state
    if paths:
        names = ", ".join(p.name for p in paths)
        raise CheckpointError(f"{checkpoint_dir(run_dir)}: no readable checkpoint ({names} are all "
                              "truncated or corrupt); start a new run or restore a copy")
    return None


def checkpoint_info(run_dir: Path) -> tuple[int, float] | None:
    """(step, training seconds) of the newest readable checkpoint, or None."""
    state = load_checkpoint(run_dir, torch.device("cpu"))
    if state is None:
        return None
    return int(state["step"]), float(state.get("schedule", {}).get("elapsed_s", 0.0))


def write_run_info(run_dir: Path, info: dict) -> None:
    """``run_info.json``: what the run ran on and how far it got (atomically)."""
    path = run_info_path(run_dir)
    try:
        atomic_write_bytes(path, (json.dumps(info, indent=2) + "\n").encode())
    except OSError as exc:
        raise OutputError(f"cannot write {path} ({describe_os_error(exc)})") from None


def read_run_info(run_dir: Path) -> dict:
    """``run_info.json`` of a run, or {} for runs written before it existed (or a damaged one)."""
    try:
        info = json.loads(run_info_path(run_dir).read_text())
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}
