"""``nerfspec compare``: train several input mappings with one budget and report on them."""

from __future__ import annotations

from pathlib import Path

from nerfspec.run_layout import PAGE_NAME


def add_parser(sub) -> None:
    p = sub.add_parser("compare", help="train several input mappings with one budget and report",
                       description="Train each field (and seed, and sweep value) with the same budget, "
                       "one after another (one worker per GPU when there are several), evaluate them, and "
                       "write OUT/report.md, report.html, results.csv, results.json and PNG plots (PSNR curves, "
                       "residual spectra, sweeps). Rerunning skips finished runs and resumes interrupted ones.")
    p.add_argument("--scene", required=True, help="scene folder with transforms_*.json (sets data.root)")
    p.add_argument("--fields", default="none,basic,pe,gauss,rffca,hashgrid",
                   help="comma-separated input mappings (default: all six)")
    p.add_argument("--config", help="base TOML config shared by every run (default: the built-in defaults)")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--budget-minutes", type=float, help="training time per run (sets train.max_minutes)")
    budget.add_argument("--steps", type=int, help="training steps per run (sets train.max_steps)")
    p.add_argument("--seeds", default="1", help="number of seeds (3: seeds 0, 1, 2) or a list (0,5,7)")
    p.add_argument("--sweep", action="append", default=[], metavar="FIELD.PARAM=V1,V2,...",
                   help="sweep a field parameter, chosen by val PSNR, e.g. gauss.sigma=1,2,4,8 (repeatable, one per field)")
    p.add_argument("--out", default="outputs/compare", help="output folder (runs go to OUT/runs/)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value for every run, e.g. --set field.width=128 (repeatable)")
    p.add_argument("--curve-points", type=int, default=8, help="points of the PSNR / spectrum curves per run")
    p.add_argument("--curve-every", type=int, default=0,
                   help="curve subset: every K-th test view (default: about 4 views)")
    p.add_argument("--eval-every", type=int, help="final evaluation: every K-th view (default: eval.every)")
    p.add_argument("--force", action="store_true", help="redo the runs from scratch")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args) -> int:
    from nerfspec.compare import CompareSpec, compare, parse_seeds, parse_sweep

    spec = CompareSpec(scene=args.scene, fields=[f.strip() for f in args.fields.split(",") if f.strip()],
                       out=args.out, base_config=args.config, overrides=list(args.overrides),
                       steps=args.steps, minutes=args.budget_minutes, seeds=parse_seeds(args.seeds),
                       sweeps=[parse_sweep(s) for s in args.sweep], curve_points=args.curve_points,
                       curve_every=args.curve_every, eval_every=args.eval_every, force=args.force,
                       quiet=args.quiet)
    results = compare(spec)
    for f in results["fields"]:
        psnr = "-" if f["test_psnr"] is None else f"{f['test_psnr']:.2f} dB"
        print(f"  {f['label']}: test PSNR {psnr}")
    pages = [Path(args.out) / name for name in ("report.md", PAGE_NAME) if (Path(args.out) / name).is_file()]
    print(f"report: {', '.join(map(str, pages))}")
    return 0
