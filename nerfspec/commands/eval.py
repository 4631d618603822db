"""``nerfspec eval``: render a split of a trained run and score it."""

from __future__ import annotations

from nerfspec.commands.common import render_rate
from nerfspec.errors import NerfspecError
from nerfspec.run_layout import eval_metrics_path


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="render a split of a trained run and write metrics.json",
                       description="Render the views of a split, write them as PNGs and "
                       "metrics.json (PSNR and SSIM per view and mean) under RUN_DIR/eval_<split>.")
    p.add_argument("run_dir")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--every", type=int, default=None, help="evaluate every K-th view (default: the config's eval.every)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])


def run(args) -> int:
    from nerfspec.evaluate import evaluate
    from nerfspec.models import load_run

    loaded = load_run(args.run_dir, args.device)
    every = args.every if args.every is not None else loaded.cfg.eval.every
    if every < 1:
        raise NerfspecError(f"--every must be >= 1, got {every}")
    metrics = evaluate(loaded, args.split, every)
    print(f"{args.split} PSNR {metrics['psnr']:.2f} dB, SSIM {metrics['ssim']:.4f} over "
          f"{len(metrics['views'])} views, {render_rate(metrics['seconds_per_view'], 'view')}; "
          f"appearance: {metrics['appearance']} -> "
          f"{eval_metrics_path(args.run_dir, args.split)}")
    for band in metrics.get("bands", []):
        print(f"  band {band['name']} ({band['cycles_per_unit']} cycles/unit): {band['psnr']:.2f} dB")
    return 0
