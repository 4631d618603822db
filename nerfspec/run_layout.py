"""Where things are in a run directory (``outputs/<name>/``), named in this one place::

    config.toml             the resolved config (reproduces the run)
    run_info.json           what the run ran on and how far it got
    checkpoints/ckpt_<step>.pt   the newest few checkpoints
    tb/                     TensorBoard logs
    eval_<split>/           evaluated views (PNGs) and their metrics.json
    video/                  rendered camera paths (MP4, GIF)
    mesh/                   the extracted mesh (mesh.<format>) and its metrics.json
    report.html             the run's page
    compare.json            a run of ``nerfspec compare``: its curve points and counters

Paths only: no torch, so the report, the viewer and compare's bookkeeping may import it freely.
Reading and writing these files is ``nerfspec.run``'s job.
"""

from __future__ import annotations

from pathlib import Path

CONFIG_NAME = "config.toml"
RUN_INFO_NAME = "run_info.json"
CHECKPOINT_DIR = "checkpoints"
METRICS_NAME = "metrics.json"
PAGE_NAME = "report.html"
_EVAL_PREFIX = "eval_"


def config_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / CONFIG_NAME


def is_run_dir(path: str | Path) -> bool:
    """Whether ``path`` holds a run (its config.toml)."""
    return config_path(path).is_file()


def run_info_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / RUN_INFO_NAME


def checkpoint_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR


def checkpoint_path(run_dir: str | Path, step: int) -> Path:
    """``checkpoints/ckpt_<step, 8 digits>.pt``: names sort in step order."""
    return checkpoint_dir(run_dir) / f"ckpt_{step:08d}.pt"


def checkpoint_paths(run_dir: str | Path) -> list[Path]:
    """Checkpoints of a run, newest first."""
    return sorted(checkpoint_dir(run_dir).glob("ckpt_*.pt"), reverse=True)


def tensorboard_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / "tb"


def eval_dir(run_dir: str | Path, split: str) -> Path:
    """``eval_<split>/``: the evaluated views of ``split`` and their metrics."""
    return Path(run_dir) / f"{_EVAL_PREFIX}{split}"


def eval_view_name(view: int) -> str:
    """The file of evaluated view ``view`` inside ``eval_<split>/``."""
    return f"r_{view}.png"


def eval_metrics_path(run_dir: str | Path, split: str) -> Path:
    return eval_dir(run_dir, split) / METRICS_NAME


def evaluated_splits(run_dir: str | Path) -> list[str]:
    """Splits with an ``eval_<split>/metrics.json``, by name."""
    return sorted(p.name[len(_EVAL_PREFIX):] for p in Path(run_dir).glob(f"{_EVAL_PREFIX}*")
                  if (p / METRICS_NAME).is_file())


def video_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / "video"


def mesh_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / "mesh"


def mesh_path(run_dir: str | Path, fmt: str = "ply") -> Path:
    """``mesh/mesh.<fmt>``: where ``nerfspec mesh`` writes by default."""
    return mesh_dir(run_dir) / f"mesh.{fmt}"


def mesh_metrics_path(run_dir: str | Path) -> Path:
    return mesh_dir(run_dir) / METRICS_NAME


def compare_state_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / "compare.json"


def page_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / PAGE_NAME
