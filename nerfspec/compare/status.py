"""Where a planned run stands on disk: new, to train (or resume), to evaluate, or done; a run
folder made with another config (other than the budget) is refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nerfspec.compare.plan import PlannedRun
from nerfspec.config import Config, config_to_dict
from nerfspec.errors import NerfspecError
from nerfspec.run import checkpoint_info
from nerfspec.run_layout import eval_metrics_path, is_run_dir

# Keys that may differ between a run directory and the plan without redoing the run.
FREE_KEYS = {"output_dir", "train.max_steps", "train.max_minutes", "train.threads", "train.device"}


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out


def config_differences(old: Config, new: Config) -> list[str]:
    """Dotted keys whose values differ, ignoring the budget, threads, device and output folder."""
    a, b = _flatten(config_to_dict(old)), _flatten(config_to_dict(new))
    return sorted(k for k in set(a) | set(b) if k not in FREE_KEYS and a.get(k) != b.get(k))


def budget_spent(cfg: Config, step: int, elapsed_s: float) -> bool:
    """The step budget is reached or (with max_minutes) the time budget is used up."""
    t = cfg.train
    return step >= t.max_steps or (t.max_minutes > 0 and elapsed_s >= 60.0 * t.max_minutes)


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def has_split(cfg: Config, split: str) -> bool:
    return (Path(cfg.data.root) / f"transforms_{split}.json").is_file()


def eval_done(run_dir: Path, cfg: Config, step: int) -> bool:
    """eval_test (and eval_val when the scene has a val split) metrics exist for ``step``."""
    for split in ("test", "val"):
        if split == "val" and not has_split(cfg, "val"):
            continue
        m = read_json(eval_metrics_path(run_dir, split))
        if m is None or m.get("step") != step:
            return False
    return True


def run_status(run: PlannedRun) -> tuple[str, tuple[int, float] | None]:
    """("new" | "train" | "eval" | "done", checkpoint (step, seconds) or None).

    Raises when the run directory was made with a different config (other than the budget).
    """
    from nerfspec.data.dataset import resolve_data
    from nerfspec.run import read_run_config

    run_dir = run.run_dir
    if not run_dir.exists():
        return "new", None
    if not is_run_dir(run_dir):
        return "new", None  # a directory left half-made; it is replaced
    # training saved its config with the scene resolved (data.scene, a capture's frame), so the
    # planned one is compared resolved the same way
    diff = config_differences(read_run_config(run_dir), resolve_data(run.cfg))
    if diff:
        raise NerfspecError(f"{run_dir}: made with a different config ({', '.join(diff[:4])}); "
                            "use --force to redo it or another --out")
    info = checkpoint_info(run_dir)
    if info is None or not budget_spent(run.cfg, *info):
        return "train", info
    return ("done" if eval_done(run_dir, run.cfg, info[0]) else "eval"), info
