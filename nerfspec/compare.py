"""Compare input mappings under one budget: plan the runs, train them (resumably), evaluate
them, record PSNR curves and residual spectra while they train, and write the report.

Layout of ``OUT/``::

    runs/<field>[_<param><value>]_s<seed>/   an ordinary run directory (``nerfspec eval`` works
                                             on it) plus compare.json: the curve points (step,
                                             training seconds, PSNR and residual band power of
                                             a test subset), parameter count, throughput
    jobs/<run>.json                          what a worker process runs (several GPUs only)
    report.md, results.csv, results.json, *.png
    report.html, report_assets/              the comparison as one page (nerfspec report)

A run is finished when its newest checkpoint is at the budget and its eval metrics.json
files match that checkpoint; a rerun skips it, resumes an interrupted run from its newest
checkpoint, and only evaluates one whose training finished.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nerfspec.config import (
    ENCODINGS,
    Config,
    ConfigError,
    FieldConfig,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    dump_toml,
    parse_override,
    read_toml,
)
from nerfspec.errors import NerfspecError
from nerfspec.run import checkpoint_info
from nerfspec.render.background import eval_background
from nerfspec.spectrum import default_band_edges, residual_band_power

STATE_NAME = "compare.json"
NO_STEP_LIMIT = 10 ** 9  # max_steps when only a time budget is given
# Keys that may differ between a run directory and the plan without redoing the run.
FREE_KEYS = {"output_dir", "train.max_steps", "train.max_minutes", "train.threads", "train.device"}


# -- the plan ------------------------------------------------------------------------------

@dataclass
class Sweep:
    """Values of one field parameter, e.g. ``gauss.sigma=1,2,4,8``; applies to that field only."""

    encoding: str  # gauss
    param: str  # sigma
    values: list[float | int]

    @property
    def key(self) -> str:
        return f"field.{self.encoding}.{self.param}"

    @property
    def label(self) -> str:
        return f"{self.encoding}.{self.param}"


def parse_sweep(text: str) -> Sweep:
    """``"gauss.sigma=1,2,4,8"`` (or ``field.gauss.sigma=...``) -> Sweep; checks the key exists."""
    if "=" not in text:
        raise ConfigError(f"--sweep {text!r} must look like gauss.sigma=1,2,4,8")
    key, raw = text.split("=", 1)
    parts = key.strip().split(".")
    if parts and parts[0] == "field":
        parts = parts[1:]
    sections = [n for n in ("pe", "gauss", "rffca") if n in FieldConfig.__dataclass_fields__]
    if len(parts) != 2 or parts[0] not in sections:
        raise ConfigError(f"--sweep {text!r}: the key must be <encoding>.<parameter> with encoding "
                          f"one of {', '.join(sections)}, e.g. gauss.sigma")
    sub = getattr(FieldConfig(), parts[0])
    if parts[1] not in type(sub).__dataclass_fields__:
        raise ConfigError(f"--sweep {text!r}: field.{parts[0]} has no parameter {parts[1]!r} "
                          f"(it has {', '.join(type(sub).__dataclass_fields__)})")
    values = []
    for item in raw.split(","):
        _, value = parse_override(f"v={item.strip()}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"--sweep {text!r}: {item.strip()!r} is not a number")
        values.append(value)
    if not values or len(set(values)) != len(values):
        raise ConfigError(f"--sweep {text!r}: give distinct values, comma-separated")
    return Sweep(parts[0], parts[1], values)


def parse_seeds(text: str | int) -> list[int]:
    """``"3"`` -> [0, 1, 2]; ``"0,5,7"`` -> [0, 5, 7]."""
    try:
        if isinstance(text, int) or "," not in str(text):
            n = int(text)
            if n < 1:
                raise ValueError
            return list(range(n))
        seeds = [int(s) for s in str(text).split(",")]
    except ValueError:
        raise ConfigError(f"--seeds {text!r}: give a count (3) or a list (0,5,7) of seeds >= 0") from None
    if any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds {text!r}: seeds must be distinct and >= 0")
    return seeds


@dataclass
class CompareSpec:
    """Everything ``nerfspec compare`` was asked for."""

    scene: str
    fields: list[str]
    out: str = "outputs/compare"
    base_config: str | None = None
    overrides: list[str] = field(default_factory=list)
    steps: int | None = None
    minutes: float | None = None
    seeds: list[int] = field(default_factory=lambda: [0])
    sweeps: list[Sweep] = field(default_factory=list)
    curve_points: int = 8  # evenly spaced points of the budget where the test subset is scored
    curve_every: int = 0  # curve subset: test views 0, K, 2K, ... (0: about 4 views)
    eval_every: int | None = None  # final eval: every K-th view (None: the config's eval.every)
    max_bands: int = 6  # octave bands of the residual spectrum
    force: bool = False  # redo the planned runs from scratch
    quiet: bool = False

    def validate(self) -> "CompareSpec":
        if not self.fields:
            raise ConfigError("--fields: name at least one field")
        for f in self.fields:
            if f not in ENCODINGS:
                raise ConfigError(f"--fields: unknown field {f!r} (choose from {', '.join(ENCODINGS)})")
        if len(set(self.fields)) != len(self.fields):
            raise ConfigError("--fields: a field is named twice")
        if self.steps is not None and self.steps < 1:
            raise ConfigError(f"--steps must be >= 1, got {self.steps}")
        if self.minutes is not None and not self.minutes > 0:
            raise ConfigError(f"--budget-minutes must be > 0, got {self.minutes}")
        if self.curve_points < 1:
            raise ConfigError(f"--curve-points must be >= 1, got {self.curve_points}")
        if self.curve_every < 0 or (self.eval_every is not None and self.eval_every < 1):
            raise ConfigError("--curve-every must be >= 0 and --eval-every >= 1")
        if len({s.encoding for s in self.sweeps}) != len(self.sweeps):
            raise ConfigError("--sweep: one sweep per field")
        for s in self.sweeps:
            if s.encoding not in self.fields:
                raise ConfigError(f"--sweep {s.label}: field {s.encoding!r} is not in --fields")
        if not (Path(self.scene) / "transforms_train.json").is_file():
            raise NerfspecError(f"{self.scene}: not a scene folder (no transforms_train.json)")
        return self


@dataclass
class PlannedRun:
    name: str
    encoding: str
    seed: int
    sweep: Sweep | None
    value: float | int | None
    cfg: Config

    @property
    def run_dir(self) -> Path:
        return Path(self.cfg.output_dir) / self.cfg.name


def format_value(value: float | int) -> str:
    """Short, path-safe text of a sweep value: 2.0 -> '2', 0.5 -> '0.5'."""
    return f"{value:g}"


def run_name(encoding: str, seed: int, sweep: Sweep | None = None, value=None) -> str:
    """``gauss_sigma2_s0``, ``pe_s1``."""
    mid = f"_{sweep.param}{format_value(value)}" if sweep is not None else ""
    return f"{encoding}{mid}_s{seed}"


def plan_runs(spec: CompareSpec) -> list[PlannedRun]:
    """One run per field x seed (x sweep value for a swept field), each with a full config."""
    base = read_toml(spec.base_config) if spec.base_config else {}
    try:
        base = apply_overrides(base, list(spec.overrides))
    except ConfigError as exc:
        raise ConfigError(f"--set: {exc}") from None
    sweeps = {s.encoding: s for s in spec.sweeps}
    runs = []
    for enc in spec.fields:
        sweep = sweeps.get(enc)
        for value in (sweep.values if sweep else [None]):
            for seed in spec.seeds:
                name = run_name(enc, seed, sweep, value)
                values = json.loads(json.dumps(base))  # deep copy
                sets = [f"name={json.dumps(name)}",
                        f"output_dir={json.dumps(str(Path(spec.out) / 'runs'))}",
                        f"data.root={json.dumps(str(Path(spec.scene).resolve()))}",
                        f"field.encoding={json.dumps(enc)}", f"train.seed={seed}"]
                if spec.steps is not None:
                    sets.append(f"train.max_steps={spec.steps}")
                if spec.minutes is not None:
                    sets.append(f"train.max_minutes={spec.minutes}")
                    if spec.steps is None:
                        sets.append(f"train.max_steps={NO_STEP_LIMIT}")
                if sweep is not None:
                    sets.append(f"{sweep.key}={value}")
                try:
                    cfg = config_from_dict(apply_overrides(values, sets))
                except ConfigError as exc:
                    where = f"{spec.base_config}: " if spec.base_config else ""
                    raise ConfigError(f"{where}run {name}: {exc}") from None
                runs.append(PlannedRun(name, enc, seed, sweep, value, cfg))
    return runs


# -- run state on disk ----------------------------------------------------------------------

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


def _read_json(path: Path) -> dict | None:
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
        m = _read_json(run_dir / f"eval_{split}" / "metrics.json")
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
    if not (run_dir / "config.toml").is_file():
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


# -- curve points while training ------------------------------------------------------------

def curve_views(n_views: int, every: int) -> list[int]:
    """Views 0, K, 2K, ... of the curve subset; K = ``every`` or, for 0, about 4 views."""
    k = every if every > 0 else max(1, math.ceil(n_views / 4))
    return list(range(0, n_views, k))


def curve_index(cfg: Config, step: int, elapsed_s: float, points: int) -> int:
    """Which of the points 1..P a state has reached: floor(progress * P), progress =
    max(step / max_steps, seconds / budget seconds) (the trainer's schedule progress)."""
    from nerfspec.train import run_progress

    return int(math.floor(run_progress(cfg.train, step, elapsed_s) * points + 1e-9))


@torch.no_grad()
def score_views(field_, estimator, split, views: list[int], background,
                chunk_rays: int, edges: np.ndarray) -> dict:
    """Render ``views`` of a split on ``background`` (a colour or a learned background; the
    targets' transparent pixels go on the same): mean PSNR and mean residual band power (B,)."""
    from nerfspec.data.blender import composite
    from nerfspec.metrics import psnr
    from nerfspec.render.renderer import render_image

    psnrs, powers = [], []
    for k in views:
        out = render_image(field_, estimator, split.cameras, k, background, chunk_rays)
        target = composite(split.image(k).float() / 255.0, out["background"])
        psnrs.append(psnr(out["rgb"], target))
        powers.append(residual_band_power(out["rgb"].numpy(), target.numpy(), edges))
    return {"psnr": float(np.mean(psnrs)), "band_power": np.mean(powers, axis=0).tolist()}


class CurveRecorder:
    """``on_step`` callback of the trainer: counts samples and training time, and at each of
    ``points`` evenly spaced fractions of the budget scores the curve subset of the test split.
    State lives in RUN/compare.json (written atomically), so it survives resuming."""

    def __init__(self, run_dir: Path, cfg: Config, points: int, every: int, max_bands: int,
                 start_elapsed_s: float = 0.0):
        from nerfspec.data.dataset import load_split

        self.path, self.cfg, self.points = run_dir / STATE_NAME, cfg, points
        self.split = load_split(cfg.data, "test")
        self.views = curve_views(len(self.split), every)
        self.edges = default_band_edges(self.split.height, self.split.width, max_bands)
        self.state = load_state(run_dir)
        self.state.update(band_edges=[float(e) for e in self.edges], curve_views=self.views)
        self.state["curve"] = reindex_curve(self.state.get("curve", []), cfg, points)
        self.last_elapsed = start_elapsed_s

    def __call__(self, trainer, stats: dict) -> None:
        c = self.state["counters"]
        c["samples"] += int(stats["samples"])
        c["rays"] += int(stats["rays"])
        c["steps"] += 1
        c["seconds"] += max(trainer.elapsed_s - self.last_elapsed, 0.0)
        self.last_elapsed = trainer.elapsed_s
        if "params" not in self.state:
            self.state["params"] = sum(p.numel() for p in trainer.field.parameters())
        index = curve_index(self.cfg, trainer.step, trainer.elapsed_s, self.points)
        if index >= 1 and index not in {p["index"] for p in self.state["curve"]}:
            self.record(trainer.field, trainer.estimator, trainer.step, trainer.elapsed_s, index,
                        trainer.background)

    def record(self, field_, estimator, step: int, elapsed_s: float, index: int, learned=None) -> None:
        """Score the curve subset now (torch's RNG state is left as it was) and save; ``learned``:
        the run's learned background, if it has one."""
        devices = [field_.aabb.device] if field_.aabb.is_cuda else []
        was_training = field_.training
        with torch.random.fork_rng(devices=devices):
            field_.eval()
            scores = score_views(field_, estimator, self.split, self.views,
                                 eval_background(self.cfg.data.eval_background, learned),
                                 self.cfg.eval.chunk_rays, self.edges)
        field_.train(was_training)
        self.state["curve"].append({"index": index, "step": step, "elapsed_s": elapsed_s, **scores})
        self.state["curve"].sort(key=lambda p: p["index"])
        self.flush()

    def flush(self) -> None:
        from nerfspec.run import atomic_write_bytes

        atomic_write_bytes(self.path, json.dumps(self.state, indent=1).encode())


def load_state(run_dir: Path) -> dict:
    """RUN/compare.json, or a fresh state."""
    state = _read_json(run_dir / STATE_NAME) or {}
    state.setdefault("counters", {})
    for k in ("samples", "rays", "steps", "seconds"):
        state["counters"].setdefault(k, 0)
    state.setdefault("curve", [])
    return state


def reindex_curve(curve: list[dict], cfg: Config, points: int) -> list[dict]:
    """Give recorded points their index under the current budget and point count, keeping
    the first point of each index (a longer budget re-spaces the points of a shorter one)."""
    out: dict[int, dict] = {}
    for p in sorted(curve, key=lambda p: (p["step"], p["elapsed_s"])):
        i = curve_index(cfg, p["step"], p["elapsed_s"], points)
        if i >= 1 and i not in out:
            out[i] = {**p, "index": i}
    return [out[i] for i in sorted(out)]


# -- running one configuration -------------------------------------------------------------

@dataclass
class Settings:
    """The per-run part of a CompareSpec (what a worker process needs besides the config)."""

    curve_points: int = 8
    curve_every: int = 0
    eval_every: int | None = None
    max_bands: int = 6
    quiet: bool = False


def settings_of(spec: CompareSpec) -> Settings:
    return Settings(spec.curve_points, spec.curve_every, spec.eval_every, spec.max_bands, spec.quiet)


def execute_run(cfg: Config, settings: Settings, log=print) -> str:
    """Bring one run to "done": train or resume it, then evaluate it. Returns what it did
    ("skipped" | "evaluated" | "trained" | "resumed"); raises KeyboardInterrupt when training
    was interrupted (its checkpoint is saved)."""
    from nerfspec.run import atomic_write_bytes
    from nerfspec.train import train

    run = PlannedRun(cfg.name, cfg.field.encoding, cfg.train.seed, None, None, cfg)
    status, info = run_status(run)
    run_dir = run.run_dir
    did = {"done": "skipped", "eval": "evaluated", "new": "trained", "train": "resumed"}[status]
    if status == "done":
        return did
    if status in ("new", "train"):
        if status == "new" and run_dir.exists():
            shutil.rmtree(run_dir)
        if status == "train":  # the budget may have changed: the run's config says what it ran
            atomic_write_bytes(run_dir / "config.toml", dump_toml(config_to_dict(cfg)).encode())
        recorder = CurveRecorder(run_dir, cfg, settings.curve_points, settings.curve_every,
                                 settings.max_bands, start_elapsed_s=info[1] if info else 0.0)
        log(f"{cfg.name}: {'training' if status == 'new' else f'resuming at step {info[0] if info else 0}'}")
        result = train(cfg, resume_dir=run_dir if status == "train" else None, quiet=settings.quiet,
                       on_step=recorder)
        recorder.flush()
        if result.interrupted:
            raise KeyboardInterrupt(f"{cfg.name} interrupted at step {result.step}")
    finalize_run(run_dir, settings)
    return did


def finalize_run(run_dir: Path, settings: Settings) -> None:
    """Evaluate a trained run on test (and val), and score the last curve point if missing."""
    from nerfspec.evaluate import evaluate
    from nerfspec.models import load_run

    loaded = load_run(run_dir)
    cfg = loaded.cfg
    info = checkpoint_info(run_dir)
    recorder = CurveRecorder(run_dir, cfg, settings.curve_points, settings.curve_every,
                             settings.max_bands)
    last = curve_index(cfg, *info, settings.curve_points)
    if last >= 1 and last not in {p["index"] for p in recorder.state["curve"]}:
        recorder.record(loaded.field, loaded.estimator, info[0], info[1], last, loaded.background)
    if "params" not in recorder.state:
        recorder.state["params"] = sum(p.numel() for p in loaded.field.parameters())
    recorder.flush()
    every = settings.eval_every or cfg.eval.every
    for split in ("test", "val"):
        if split == "val" and not has_split(cfg, "val"):
            continue
        evaluate(loaded, split, every, quiet=settings.quiet)


# -- several GPUs: one worker process per device ------------------------------------------

def cuda_devices(cfg: Config) -> list[str]:
    """CUDA_VISIBLE_DEVICES entries of the GPUs to spread runs over (empty: run in-process)."""
    if cfg.train.device == "cpu" or not torch.cuda.is_available() or torch.cuda.device_count() < 2:
        return []
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = [v.strip() for v in visible.split(",") if v.strip()] if visible else []
    n = torch.cuda.device_count()
    return ids[:n] if len(ids) >= n else [str(i) for i in range(n)]


def write_job(out: Path, cfg: Config, settings: Settings) -> Path:
    from nerfspec.run import atomic_write_bytes

    path = out / "jobs" / f"{cfg.name}.json"
    job = {"config": config_to_dict(cfg), "settings": settings.__dict__}
    atomic_write_bytes(path, json.dumps(job, indent=1).encode())
    return path


def run_parallel(jobs: list[Path], devices: list[str], log=print) -> list[str]:
    """Run ``python -m nerfspec.compare JOB`` for each job, one at a time per device
    (CUDA_VISIBLE_DEVICES set to it); returns the jobs that failed."""
    queue, running, failed = list(jobs), {}, []
    try:
        while queue or running:
            for dev in devices:
                if dev not in running and queue:
                    job = queue.pop(0)
                    env = {**os.environ, "CUDA_VISIBLE_DEVICES": dev}
                    log(f"{job.stem}: on device {dev}")
                    running[dev] = (job, subprocess.Popen([sys.executable, "-m", "nerfspec.compare", str(job)],
                                                          env=env))
            time.sleep(0.2)
            for dev, (job, proc) in list(running.items()):
                if proc.poll() is not None:
                    del running[dev]
                    if proc.returncode != 0:
                        failed.append(job.stem)
                        if proc.returncode == 130:
                            raise KeyboardInterrupt(f"{job.stem} interrupted")
    finally:
        for _job, proc in running.values():  # Ctrl-C: let every worker save its checkpoint
            proc.send_signal(2)
        for _job, proc in running.values():
            proc.wait()
    return failed


def worker_main(argv: list[str]) -> int:
    """``python -m nerfspec.compare JOB.json``: bring one run to done."""
    job = json.loads(Path(argv[0]).read_text())
    cfg = config_from_dict(job["config"])
    try:
        execute_run(cfg, Settings(**job["settings"]))
    except KeyboardInterrupt:
        return 130
    except NerfspecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


# -- the whole comparison -------------------------------------------------------------------

def collect_run(run: PlannedRun) -> dict:
    """One result row from a finished run directory (metrics, curve, counters)."""
    run_dir = run.run_dir
    test = _read_json(run_dir / "eval_test" / "metrics.json") or {}
    val = _read_json(run_dir / "eval_val" / "metrics.json") or {}
    state = load_state(run_dir)
    info = checkpoint_info(run_dir) or (0, 0.0)
    c = state["counters"]
    seconds = max(c["seconds"], 1e-9)
    return {
        "run": run.name, "field": run.encoding, "seed": run.seed,
        "sweep": run.sweep.label if run.sweep else None, "value": run.value,
        "steps": info[0], "train_s": info[1],
        "samples_per_s": c["samples"] / seconds if c["steps"] else None,
        "rays_per_s": c["rays"] / seconds if c["steps"] else None,
        "params": state.get("params"),
        "test_psnr": test.get("psnr"), "test_ssim": test.get("ssim"),
        "val_psnr": val.get("psnr"), "val_ssim": val.get("ssim"),
        "bands": test.get("bands", []),
        "curve": state["curve"], "band_edges": state.get("band_edges"),
        "run_dir": str(run_dir),
    }


def compare(spec: CompareSpec, devices: list[str] | None = None, log=print) -> dict:
    """Plan, run (skipping finished runs), collect and report; returns the results dict
    (also written to OUT/results.json). ``devices``: CUDA_VISIBLE_DEVICES entries to spread
    runs over in worker processes (None: every GPU when there are several, else in-process)."""
    from nerfspec import report

    spec.validate()
    out = Path(spec.out)
    plan = plan_runs(spec)
    settings = settings_of(spec)
    if spec.force:
        for run in plan:
            if run.run_dir.exists():
                shutil.rmtree(run.run_dir)
    todo = []
    for run in plan:
        status, _ = run_status(run)  # raises early on a mismatched config
        if status == "done":
            log(f"{run.name}: finished, skipped")
        else:
            todo.append(run)
    if devices is None:
        devices = cuda_devices(plan[0].cfg)
    started = time.time()
    try:
        if len(devices) > 1 and todo:
            failed = run_parallel([write_job(out, r.cfg, settings) for r in todo], devices, log)
            if failed:
                raise NerfspecError(f"runs failed: {', '.join(failed)} (see their output above)")
        else:
            for i, run in enumerate(todo):
                log(f"[{i + 1}/{len(todo)}] {run.name}")
                execute_run(run.cfg, settings, log)
    except KeyboardInterrupt as exc:
        log(f"{exc or 'interrupted'}; checkpoints are saved: run the same command again to resume")
        raise
    rows = [collect_run(run) for run in plan]
    results = report.build_results(spec_summary(spec, plan), rows)
    results["wall_s"] = time.time() - started
    report.write_report(results, out)
    try:  # the page is a view of what is written above; failing to write it loses nothing
        report.write_html_report([out], out / "report.html", progress=not spec.quiet)
    except NerfspecError as exc:
        log(f"warning: {out / 'report.html'} not written ({exc})")
    return results


def spec_summary(spec: CompareSpec, plan: list[PlannedRun]) -> dict:
    """What the report says about the set-up."""
    t = plan[0].cfg.train
    return {
        "scene": str(Path(spec.scene).resolve()), "fields": spec.fields, "seeds": spec.seeds,
        "base_config": spec.base_config, "overrides": spec.overrides,
        "max_steps": None if t.max_steps >= NO_STEP_LIMIT else t.max_steps,
        "max_minutes": t.max_minutes or None,
        "sweeps": [{"key": s.label, "values": s.values} for s in spec.sweeps],
        "curve_points": spec.curve_points, "device": plan[0].cfg.train.device,
        "torch": torch.__version__,
    }


if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1:]))
