"""Running a comparison: bring each planned run to done (train or resume it, evaluate it),
in this process or in one worker per GPU, then collect the rows and write the results and the
page."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import torch

from nerfspec.compare.curves import CurveRecorder, curve_index, load_state
from nerfspec.compare.parallel import cuda_devices, run_parallel, write_job
from nerfspec.compare.plan import NO_STEP_LIMIT, CompareSpec, PlannedRun, Settings, plan_runs, settings_of
from nerfspec.compare.results import build_results, write_report
from nerfspec.compare.status import has_split, read_json, run_status
from nerfspec.config import Config, config_from_dict
from nerfspec.errors import NerfspecError
from nerfspec.run import checkpoint_info
from nerfspec.run_layout import eval_metrics_path, page_path


def execute_run(cfg: Config, settings: Settings, log=print) -> str:
    """Bring one run to "done": train or resume it, then evaluate it. Returns what it did
    ("skipped" | "evaluated" | "trained" | "resumed"); raises KeyboardInterrupt when training
    was interrupted (its checkpoint is saved)."""
    from nerfspec.run import write_run_config
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
            write_run_config(run_dir, cfg)
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
    test = read_json(eval_metrics_path(run_dir, "test")) or {}
    val = read_json(eval_metrics_path(run_dir, "val")) or {}
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
    from nerfspec.report import write_html_report

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
    results = build_results(spec_summary(spec, plan), rows)
    results["wall_s"] = time.time() - started
    write_report(results, out)
    try:  # the page is a view of what is written above; failing to write it loses nothing
        write_html_report([out], page_path(out), progress=not spec.quiet)
    except NerfspecError as exc:
        log(f"warning: {page_path(out)} not written ({exc})")
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
