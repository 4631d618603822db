"""What a run ran on and how far it got: RUN/run_info.json (written by training) where present,
else the same facts recovered from the config, the checkpoint, the dataset and TensorBoard,
each marked with where it came from."""

from __future__ import annotations

import json
from pathlib import Path

from nerfspec.config import Config
from nerfspec.run_layout import run_info_path

# The keys the page shows, in order (run_info.json may hold more; they are shown after these).
INFO_KEYS = ("device", "device_name", "precision", "kernels", "threads", "torch", "encoding", "parameters", "dataset",
             "step", "elapsed_s", "rays_per_s", "samples_per_s", "peak_memory_gb")


def read_json(path: Path) -> dict | None:
    """A JSON object from ``path``, or None when it is missing, unreadable or not an object."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def merge_info(recorded: dict | None, fallbacks: dict[str, tuple[object, str]]) -> dict[str, dict]:
    """{key: {"value", "source"}}: the run_info.json value (source "run_info") where it has the
    key and it is not null, else the fallback (value, source); keys with neither are left out.
    Order: INFO_KEYS first, then any other recorded keys."""
    recorded = recorded or {}
    out = {}
    for key in list(INFO_KEYS) + [k for k in recorded if k not in INFO_KEYS]:
        if recorded.get(key) is not None:
            out[key] = {"value": recorded[key], "source": "run_info"}
        elif key in fallbacks and fallbacks[key][0] is not None:
            out[key] = {"value": fallbacks[key][0], "source": fallbacks[key][1]}
    return out


def count_parameters(cfg: Config) -> int | None:
    """Trainable parameters of the configured field (built on the CPU, global RNG untouched)."""
    import torch

    from nerfspec.fields import build_field

    try:
        with torch.random.fork_rng(devices=[]):
            field = build_field(cfg.field, torch.tensor(cfg.data.aabb, dtype=torch.float32), cfg.train.seed)
    except Exception:  # a field this version cannot build: leave the figure out
        return None
    return sum(p.numel() for p in field.parameters() if p.requires_grad)


def checkpoint_progress(run_dir: Path) -> tuple[int, float] | None:
    """(step, training seconds) of the newest readable checkpoint, or None."""
    from nerfspec.errors import NerfspecError
    from nerfspec.run import checkpoint_info

    try:
        return checkpoint_info(run_dir)
    except NerfspecError:
        return None


def train_views(root: str | Path) -> int | None:
    meta = read_json(Path(root) / "transforms_train.json")
    frames = meta.get("frames") if meta else None
    return len(frames) if isinstance(frames, list) else None


def fallback_info(run_dir: Path, cfg: Config, scalars: dict, image_size: tuple[int, int] | None,
                  need: set[str]) -> dict[str, tuple[object, str]]:
    """(value, source) for the keys in ``need`` from what a run folder holds without run_info.json."""
    from nerfspec.report.events import last_value

    out: dict[str, tuple[object, str]] = {
        "device": (cfg.train.device, "config"),
        "precision": (cfg.field.precision, "config"),
        "threads": (cfg.train.threads or None, "config"),
    }
    if "parameters" in need:
        out["parameters"] = (count_parameters(cfg), "config")
    if "dataset" in need:
        w, h = image_size if image_size else (None, None)
        out["dataset"] = ({"root": cfg.data.root, "train_views": train_views(cfg.data.root),
                           "width": w, "height": h, "downscale": cfg.data.downscale}, "config")
    if need & {"step", "elapsed_s"}:
        progress = checkpoint_progress(run_dir)
        if progress is not None:
            out["step"], out["elapsed_s"] = (progress[0], "checkpoint"), (progress[1], "checkpoint")
        else:
            steps = [s["step"][-1] for s in scalars.values() if s["step"]]
            minutes = last_value(scalars.get("train/elapsed_min"))
            out["step"] = (max(steps) if steps else None, "tensorboard")
            out["elapsed_s"] = (minutes * 60.0 if minutes is not None else None, "tensorboard")
    return out


def run_info(run_dir: Path, cfg: Config, scalars: dict, image_size: tuple[int, int] | None = None) -> dict:
    """The run's facts, {key: {"value", "source"}} (see ``merge_info``)."""
    recorded = read_json(run_info_path(run_dir))
    need = {k for k in INFO_KEYS if not recorded or recorded.get(k) is None}
    return merge_info(recorded, fallback_info(run_dir, cfg, scalars, image_size, need))
