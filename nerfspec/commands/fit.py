"""``nerfspec fit image|shape``: Tancik et al.'s direct regression tasks."""

from __future__ import annotations

from pathlib import Path

from nerfspec.errors import NerfspecError


def add_parser(sub) -> None:
    """The ``fit`` subcommand and its ``image`` / ``shape`` tasks on the CLI's subparsers."""
    p = sub.add_parser("fit", help="Tancik et al.'s direct regression tasks: 2D images, 3D occupancy",
                       description="Fit coordinate networks with each input mapping to images or meshes, "
                       "each mapping's scale chosen by a sweep on validation targets, and write OUT/report.md, "
                       "results.json, results.csv and PNG plots. Rerunning reuses finished runs.")
    tasks = p.add_subparsers(dest="task", required=True)
    for task, what in (("image", "IMAGE_OR_FOLDER: an image file, a folder of images, or the built-in sets "
                        "'natural' (8 test + 2 val photographs shipped with scikit-image) and 'text' "
                        "(generated: random strings, fonts, sizes, colours)"),
                       ("shape", "MESH: watertight mesh files trimesh reads, e.g. OUT/mesh.ply of nerfspec make-scene")):
        t = tasks.add_parser(task, help=f"fit {'images (PSNR)' if task == 'image' else 'meshes (IoU)'}",
                             description=f"Targets: {what}.")
        t.add_argument("targets", nargs="+", help="test targets")
        t.add_argument("--val", action="append", default=[], metavar="PATH",
                       help="validation targets for the scale sweeps (repeatable; images: default the built-in "
                       "sets' val images; without any, each mapping uses the middle scale of its sweep)")
        t.add_argument("--fields", default="none,basic,pe,gauss,rffca", help="comma-separated mappings")
        t.add_argument("--steps", type=int, default=2000, help="training steps per test run (default 2000)")
        t.add_argument("--sweep-steps", type=int, default=0, help="steps per sweep run (default: --steps)")
        t.add_argument("--sweep", action="append", default=[], metavar="MAPPING=V1,V2,...",
                       help="scales to try for pe (top frequency), gauss (sigma) or rffca (base sigma), in cycles "
                       "per unit; a single value fixes the scale (defaults: see report.md's set-up)")
        t.add_argument("--out", default=f"outputs/fit_{task}", help="output folder")
        t.add_argument("--lr", type=float, default=0.0, help="Adam learning rate (default: 1e-3 images, 5e-4 shapes)")
        t.add_argument("--lr-decay", type=float, default=0.0,
                       help="learning rate at the end over the start, exponential decay (default: 1 images, 0.01 shapes)")
        t.add_argument("--depth", type=int, default=0, help="hidden layers (default: 4 images, 8 shapes)")
        t.add_argument("--width", type=int, default=256, help="hidden width (default 256)")
        t.add_argument("--features", type=int, default=256, help="frequencies of pe and gauss (default 256)")
        t.add_argument("--precision", default="auto", help="auto (bf16 where the CPU/GPU has bf16 units), bf16 or fp32")
        t.add_argument("--seed", type=int, default=0)
        t.add_argument("--curve-points", type=int, default=10, help="evaluations along each run (default 10)")
        t.add_argument("--set", dest="overrides", action="append", default=[], metavar="field.rffca.KEY=VALUE",
                       help="RFF-CA settings, e.g. --set field.rffca.variant=note, --set field.rffca.afe_at=[0.3]")
        t.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's)")
        t.add_argument("--force", action="store_true", help="redo finished runs")
        t.add_argument("--quiet", action="store_true", help="no progress bars")
        if task == "image":
            t.add_argument("--size", type=int, default=512, help="images are centre-cropped and resized to SIZE^2 (default 512)")
            t.add_argument("--text-count", type=int, default=8, help="generated text images in the test set (default 8)")
        else:
            t.add_argument("--batch", type=int, default=8192, help="uniform training points per step (default 8192)")
            t.add_argument("--pool", type=int, default=1 << 19,
                           help="pre-labelled uniform points the batches are drawn from (default 524288)")
            t.add_argument("--test-points", type=int, default=1 << 15,
                           help="near-surface (and uniform) test points for the IoU (default 32768)")
            t.add_argument("--mesh-resolution", type=int, default=128,
                           help="marching-cubes grid of the exported meshes (default 128)")


def run(args) -> int:
    """Build the ``FitSpec`` from parsed arguments, run it and print where the report is."""
    import torch

    from nerfspec.config import load_config
    from nerfspec.fit.experiment import FitSpec, parse_sweep, run_experiment

    if args.threads:
        torch.set_num_threads(args.threads)
    bad = [o for o in args.overrides if not o.strip().startswith("field.rffca.")]
    if bad:
        raise NerfspecError(f"--set {bad[0]!r}: fit only takes field.rffca.* settings")
    rffca = load_config(None, args.overrides).field.rffca
    spec = FitSpec(task=args.task, sources=args.targets, out=args.out,
                   fields=[f.strip() for f in args.fields.split(",") if f.strip()], val_sources=args.val,
                   steps=args.steps, sweep_steps=args.sweep_steps, lr_decay=args.lr_decay, sweeps=dict(map(parse_sweep, args.sweep)),
                   size=getattr(args, "size", 512), text_count=getattr(args, "text_count", 8), lr=args.lr,
                   batch=getattr(args, "batch", 8192), pool=getattr(args, "pool", 1 << 19),
                   test_points=getattr(args, "test_points", 1 << 15), depth=args.depth, width=args.width, features=args.features,
                   precision=args.precision, seed=args.seed, curve_points=args.curve_points,
                   mesh_resolution=getattr(args, "mesh_resolution", 128), rffca=rffca, force=args.force,
                   quiet=args.quiet)
    run_experiment(spec)
    print(f"report: {Path(args.out) / 'report.md'}")
    return 0
