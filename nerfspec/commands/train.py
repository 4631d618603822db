"""``nerfspec train``: train a field, optionally watched in the browser, evaluated and reported."""

from __future__ import annotations

import os
import sys

from nerfspec.commands.common import render_rate
from nerfspec.errors import NerfspecError


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train a field on a Blender-format scene",
                       description="Train a radiance field. The run directory (outputs/<name>) gets "
                       "the resolved config, checkpoints and TensorBoard logs (tensorboard --logdir outputs).")
    p.add_argument("config", nargs="?", help="TOML config (see configs/); the defaults when omitted; "
                   "with --resume the run's own config is used")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set field.gauss.sigma=8 (repeatable)")
    p.add_argument("--data", help="a Blender scene folder (transforms_*.json), a capture folder "
                   "(transforms.json), or either's .json file (sets data.root)")
    p.add_argument("--name", help="run name (sets name; the run goes to outputs/<name>)")
    p.add_argument("--max-steps", type=int, help="stop after this many steps (sets train.max_steps)")
    p.add_argument("--max-minutes", type=float, help="stop after this much wall time (sets train.max_minutes)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its newest checkpoint")
    p.add_argument("--force", action="store_true", help="replace an existing run directory of the same name")
    p.add_argument("--eval", action="store_true", help="evaluate the test split when training ends")
    p.add_argument("--report", action="store_true", help="write RUN_DIR/report.html at the end (after --eval): "
                   "curves, views, video and mesh of the run in one page (see nerfspec report)")
    p.add_argument("--gpus", type=int, default=1, metavar="N",
                   help="data-parallel training over N processes (one per GPU; gloo on the CPU): "
                   "the same as torchrun --nproc_per_node=N -m nerfspec train ...")
    p.add_argument("--viewer", action="store_true", help="watch training in the browser (needs nerfspec[viewer]): "
                   "frames of the current field between steps, within --viewer-budget of the wall time, "
                   "pause / resume, loss and PSNR curves")
    p.add_argument("--viewer-port", default="8080", help="port of --viewer on 127.0.0.1 (default 8080)")
    p.add_argument("--viewer-budget", default="0.12",
                   help="share of the wall time the viewer may spend rendering (default 0.12: training "
                   "slows by at most about 14%%)")


def flag_overrides(args) -> list[str]:
    """``--set`` values followed by what --data, --name, --max-steps and --max-minutes set."""
    overrides = list(args.overrides)
    for flag, key in ((args.data, "data.root"), (args.name, "name"), (args.max_steps, "train.max_steps"),
                      (args.max_minutes, "train.max_minutes")):
        if flag is not None:
            overrides.append(f"{key}={flag!r}" if isinstance(flag, str) else f"{key}={flag}")
    return overrides


def training_viewer(args):
    """The trainer's per-step hook serving ``--viewer`` (its address printed), or None."""
    if not args.viewer:
        return None
    from nerfspec.export.video import parse_number as num
    from nerfspec.viewer.server import require_viser

    port = num("--viewer-port", args.viewer_port, int, 0, 65535)
    budget = num("--viewer-budget", args.viewer_budget, float, 0.01, 0.9)
    if args.gpus > 1:
        raise NerfspecError("--viewer watches one process; drop --gpus or --viewer")
    require_viser()
    from nerfspec.viewer.live import TrainingHook, training_refinement
    from nerfspec.viewer.server import Viewer

    viewer = Viewer("127.0.0.1", port, training_refinement(), training=True)
    print(f"viewer: {viewer.url} (training waits for no browser)", flush=True)
    return TrainingHook(viewer, budget)


def run(args) -> int:
    from nerfspec.config import load_config
    from nerfspec.run import resumed_config
    from nerfspec.train import train

    if args.gpus < 1:
        raise NerfspecError(f"--gpus must be >= 1, got {args.gpus}")
    if args.gpus > 1 and "WORLD_SIZE" not in os.environ:
        from nerfspec.distributed import launch_processes

        return launch_processes(args.gpus, sys.argv[1:])
    rank0 = os.environ.get("RANK", "0") == "0"
    overrides = flag_overrides(args)
    cfg = resumed_config(args.resume, overrides) if args.resume else load_config(args.config, overrides)
    hook = training_viewer(args)
    try:
        result = train(cfg, resume_dir=args.resume, force=args.force, on_step=hook)
    finally:
        if hook is not None:
            hook.viewer.close()
    if result.interrupted:
        import signal

        sig = signal.Signals(result.signal or signal.SIGINT)
        print(f"interrupted by {sig.name} at step {result.step}; checkpoint saved. Resume with: "
              f"nerfspec train --resume {result.run_dir}")
        return 128 + int(sig)  # 130 for SIGINT, 143 for SIGTERM
    if not rank0:
        return 0
    print(f"trained {result.step} steps in {result.elapsed_s / 60:.1f} min -> {result.run_dir}")
    if args.eval:
        from nerfspec.evaluate import evaluate
        from nerfspec.models import load_run
        from nerfspec.run_layout import eval_dir

        metrics = evaluate(load_run(result.run_dir), "test", cfg.eval.every)
        print(f"test PSNR {metrics['psnr']:.2f} dB, SSIM {metrics['ssim']:.4f} "
              f"({len(metrics['views'])} views, {render_rate(metrics['seconds_per_view'], 'view')}; "
              f"appearance: {metrics['appearance']}) "
              f"-> {eval_dir(result.run_dir, 'test')}")
    if args.report:
        from nerfspec.report import write_html_report

        print(f"report: {write_html_report([result.run_dir])}")
    return 0
