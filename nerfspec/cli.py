"""``nerfspec`` command line: train, eval, make-scene (and more as they land).

Errors in what the user gave (dataset, config, run directory) print one line
``error: ...`` and exit with code 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from nerfspec.errors import NerfspecError
from nerfspec.memory import keep_freed_memory


class Parser(argparse.ArgumentParser):
    """argparse with the CLI's one error form: a bad or missing argument is one line
    ``error: <command>: <what>`` on stderr and exit code 2 (not argparse's usage block)."""

    def error(self, message: str):
        print(f"error: {self.prog}: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def _add_train(sub) -> None:
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


def _add_eval(sub) -> None:
    p = sub.add_parser("eval", help="render a split of a trained run and write metrics.json",
                       description="Render the views of a split, write them as PNGs and "
                       "metrics.json (PSNR and SSIM per view and mean) under RUN_DIR/eval_<split>.")
    p.add_argument("run_dir")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--every", type=int, default=None, help="evaluate every K-th view (default: the config's eval.every)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])


def _add_make_scene(sub) -> None:
    p = sub.add_parser("make-scene", help="render a built-in scene description to the Blender format "
                       "or as a capture", description="Render scenes/*.toml with the analytic ray caster "
                       "into OUT_DIR (transforms_*.json, RGBA PNGs, ground-truth mesh.ply), or with "
                       "--format nerfstudio as a real-looking capture: one transforms.json with intrinsics "
                       "and lens distortion, e.g. --format nerfstudio --distortion=-0.12,0.03,0.001,-0.0005 "
                       "--no-alpha --background sky.")
    p.add_argument("scene", help="scene description, e.g. scenes/default.toml")
    p.add_argument("out_dir")
    p.add_argument("--size", type=int, help="image width and height in pixels")
    p.add_argument("--views", type=int, help="number of training views")
    p.add_argument("--seed", type=int, help="camera placement seed")
    p.add_argument("--format", default="blender", help="blender (transforms_{train,val,test}.json, default) "
                   "or nerfstudio (one transforms.json with fl_x, fl_y, cx, cy, camera_model, split lists)")
    p.add_argument("--camera-model", help="lens of a nerfstudio capture: opencv (k1,k2,p1,p2[,k3]; the "
                   "default with --distortion), opencv_fisheye (k1,k2,k3,k4) or pinhole (the default without)")
    p.add_argument("--distortion", metavar="K1,K2,...", help="lens coefficients of --camera-model, "
                   "comma-separated, e.g. --distortion=-0.12,0.03,0.001,-0.0005 (with =, since the value starts with -); "
                   "rays are undistorted per sub-pixel sample")
    p.add_argument("--no-alpha", action="store_true", help="opaque RGB images: rays that miss every "
                   "object see --background (as photos do) instead of being transparent")
    p.add_argument("--background", default=None, help="with --no-alpha: white (default), black, sky "
                   "(a sky-over-ground environment by ray direction) or room (textured walls, floor and ceiling at finite distance)")
    p.add_argument("--image-format", default="png", help="png (default) or jpg (quality 95; needs --no-alpha)")
    p.add_argument("--variant", default="plain", help="with --format nerfstudio, write the same cameras the way "
                   "other tools do: plain (default), windows (backslash file paths), blender_split "
                   "(transforms_train/test.json with full intrinsics, no val file), distortion_params "
                   "(nerfstudio's per-frame list), simple_radial (SIMPLE_RADIAL / RADIAL camera_model), "
                   "two_sizes (every other frame 3/4 the size, intrinsics per frame)")


def _add_check_data(sub) -> None:
    p = sub.add_parser("check-data", help="load a scene or capture as training would and summarise it",
                       description="Load every split of a dataset (a Blender scene, or a capture: a folder "
                       "with one transforms.json from ns-process-data or colmap2nerf.py) the way training "
                       "does and print one line per split (views, size, focal length, lens) and, for a "
                       "capture, the world-to-scene transform, which frames have masks, images in its folders "
                       "that the file does not list, and whether aabb_scale is used. Notes about what is read "
                       "but not used go to stderr. A bad dataset is one error line (exit 2).")
    p.add_argument("root", help="dataset folder (or a capture's .json file)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="a data setting, e.g. --set data.downscale=4 or --set data.normalize=none (repeatable)")


def _add_compare(sub) -> None:
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


def _add_view(sub) -> None:
    p = sub.add_parser("view", help="look at a trained run in the browser (needs nerfspec[viewer])",
                       description="Serve a viewer of a run on 127.0.0.1 and print its address: the "
                       "training cameras with their images, the scene box, the occupancy grid, the mesh "
                       "(RUN_DIR/mesh) if extracted, and the field rendered from the browser's camera as "
                       "colour, depth or opacity: previews --preview-width pixels wide while the camera moves "
                       "(steps twice the run's render step, colour only where it shows), then --max-width "
                       "wide as evaluation renders once it stops. Ctrl-C stops it.")
    p.add_argument("run_dir")
    p.add_argument("--port", default="8080", help="port on 127.0.0.1 (default 8080)")
    p.add_argument("--preview-width", default="256", help="frame width while the camera moves (default 256)")
    p.add_argument("--max-width", default="512", help="frame width once the camera stops (default 512)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")


def _add_render(sub) -> None:
    p = sub.add_parser("render", help="render a camera path of a trained run to MP4 (and GIF)",
                       description="Render a camera path with the run's field and write H.264 MP4 "
                       "(optionally GIF) under RUN_DIR/video; prints the files and the mean seconds per frame.")
    p.add_argument("run_dir")
    p.add_argument("--path", default="orbit", help="orbit (one turn around the centre of data.aabb, default), "
                   "spiral, test (the test views in order) or interpolate (a smoothed path through the "
                   "training cameras in file-name order, e.g. the order a phone video filmed them)")
    p.add_argument("--smoothing", default="2", help="--path interpolate: std of the Gaussian smoothing, in "
                   "cameras (default 2; 0 follows every camera)")
    p.add_argument("--frames", default="120", help="frames of an orbit or spiral (default 120)")
    p.add_argument("--fps", default="30", help="frames per second (default 30)")
    p.add_argument("--resolution", help="WxH in pixels (the training focal length scaled to keep the field of view); "
                   "default: the training images' size")
    p.add_argument("--downscale", help="integer factor on the dataset's image size (default: the run's data.downscale)")
    p.add_argument("--radius", help="camera distance (default: mean of the train cameras)")
    p.add_argument("--elevation", help="elevation in degrees (default: mean of the train cameras)")
    p.add_argument("--outputs", default="rgb", help="comma-separated panels: rgb, depth (turbo colour map "
                   "over the box's near/far), opacity (grey); default rgb")
    p.add_argument("--layout", default="side", help="side (panels side by side in one video, default) or "
                   "separate (one video per panel)")
    p.add_argument("--gif", action="store_true", help="also write a GIF of each video")
    p.add_argument("--keep-frames", action="store_true", help="keep the PNG frames next to each video")
    p.add_argument("--out", help="output folder (default RUN_DIR/video)")
    p.add_argument("--chunk", help="rays rendered at once (default: the run's eval.chunk_rays)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")


def _add_mesh(sub) -> None:
    p = sub.add_parser("mesh", help="extract a coloured mesh from a trained run (marching cubes or TSDF fusion)",
                       description="Build a surface on a grid over the scene box (marching cubes on the density, "
                       "or on a TSDF fused from depth maps rendered from the training cameras), clean it (drop "
                       "faces no training view constrains and small floating pieces), colour the vertices from "
                       "the field and export PLY, OBJ or GLB (default RUN_DIR/mesh/mesh.ply). RUN_DIR/mesh/"
                       "metrics.json gets the mesh's facts and what cleaning removed; with --eval also the "
                       "comparison with the scene's ground-truth mesh.")
    p.add_argument("run_dir")
    p.add_argument("--method", default="density", help="density (marching cubes on {density = --threshold}, "
                   "default) or tsdf (fusion of depth maps rendered from every training camera)")
    p.add_argument("--resolution", default="256", help="grid points per axis (default 256: a voxel of the "
                   "3-unit box is 0.012, below the F-score distance 0.02)")
    p.add_argument("--threshold", default="10", help="density level of the surface, per scene unit (default 10: "
                   "a 0.1-unit layer of it stops 63%% of the light, 1 - exp(-1); raise it for fuzzy surfaces, "
                   "lower it if thin parts vanish)")
    p.add_argument("--tsdf-trunc", default="4", help="tsdf: truncation distance in voxels (default 4)")
    p.add_argument("--tsdf-opacity", default="0.5", help="tsdf: pixels of at least this opacity have a surface "
                   "(their expected depth); the others see background (default 0.5)")
    p.add_argument("--cull", default="silhouette", help="drop faces no training view constrains: silhouette "
                   "(outside every view frustum, or seen against the background of some view's alpha, "
                   "default), frustum (outside every view frustum only) or none")
    p.add_argument("--min-component", default="0.005", help="drop connected pieces with fewer than this share "
                   "of the faces (default 0.005; 0 keeps all)")
    p.add_argument("--bbox", nargs=6, metavar=("XMIN", "YMIN", "ZMIN", "XMAX", "YMAX", "ZMAX"),
                   help="box to mesh (default: the run's data.aabb)")
    p.add_argument("--keep-largest", action="store_true", help="keep only the largest connected component")
    p.add_argument("--min-component-faces", default="0", help="drop components with fewer faces (default 0: keep all)")
    p.add_argument("--format", help="ply, obj or glb (default: the --out suffix, else ply)")
    p.add_argument("--out", help="output file (default RUN_DIR/mesh/mesh.<format>)")
    p.add_argument("--metrics", help="metrics file (default RUN_DIR/mesh/metrics.json)")
    p.add_argument("--no-colours", action="store_true", help="skip the vertex colours")
    p.add_argument("--full", action="store_true", help="density: query every grid point (default: only points in "
                   "cells the run's occupancy grid marks occupied, grown by one cell; the rest count as empty)")
    p.add_argument("--eval", action="store_true", help="Chamfer-L1, F-score and volumetric IoU against "
                   "data.root/mesh.ply (generated scenes), on the whole true surface and on the part the "
                   "training cameras see (visible_*: ray cast through the analytic scene.toml); IoU is of the "
                   "solid {density > threshold} with hollow interiors filled (iou_density: without); "
                   "with no surface at the threshold, Chamfer is null and F-score 0")
    p.add_argument("--fscore-tau", default="0.02", help="F-score distance threshold in scene units (default 0.02, "
                   "about 2 voxels of a 256^3 grid over the 3-unit box)")
    p.add_argument("--eval-samples", default="100000", help="surface points per mesh and occupancy points "
                   "in the box for --eval (default 100000)")
    p.add_argument("--chunk", default="65536", help="points per density query (default 65536)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")


def _add_report(sub) -> None:
    p = sub.add_parser("report", help="one self-contained HTML page of a run, several runs, or a comparison",
                       description="Write an HTML page that opens from disk with no server: the run's facts and "
                       "resolved config, training curves from its TensorBoard logs (zoom, hover values), the "
                       "evaluated views (ground truth | render | error heatmap, sortable PSNR / SSIM table), the "
                       "orbit video and an interactive viewer of the extracted mesh beside the scene's ground "
                       "truth. Several runs are shown side by side; a nerfspec compare folder adds its summary, "
                       "PSNR curves, residual spectra and sweeps. Large files (video, mesh) go to a folder "
                       "<page>_assets beside the page: copy both to share the report.")
    p.add_argument("paths", nargs="+", metavar="RUN_OR_COMPARE_DIR",
                   help="a run directory, several of them, or one nerfspec compare output folder")
    p.add_argument("--out", help="the page's file, ending in .html (default: RUN_DIR/report.html, "
                   "COMPARE_DIR/report.html, or ./report.html for several runs)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="nerfspec", description="Neural radiance fields with "
                                     "interchangeable input mappings (none, basic, pe, gauss, rffca).")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    _add_eval(sub)
    _add_make_scene(sub)
    _add_check_data(sub)
    _add_compare(sub)
    _add_render(sub)
    _add_mesh(sub)
    _add_report(sub)
    _add_view(sub)
    from nerfspec.fit.cli import add_fit_parser

    add_fit_parser(sub)
    return parser


def cmd_train(args) -> int:
    from nerfspec.config import load_config
    from nerfspec.run import read_run_config
    from nerfspec.train import train

    if args.gpus < 1:
        raise NerfspecError(f"--gpus must be >= 1, got {args.gpus}")
    if args.gpus > 1 and "WORLD_SIZE" not in os.environ:
        return launch_data_parallel(args.gpus, sys.argv[1:])
    rank0 = os.environ.get("RANK", "0") == "0"
    overrides = list(args.overrides)
    for flag, key in ((args.data, "data.root"), (args.name, "name"), (args.max_steps, "train.max_steps"),
                      (args.max_minutes, "train.max_minutes")):
        if flag is not None:
            overrides.append(f"{key}={flag!r}" if isinstance(flag, str) else f"{key}={flag}")
    if args.resume:
        from nerfspec.config import apply_overrides, config_from_dict, config_to_dict

        cfg = config_from_dict(apply_overrides(config_to_dict(read_run_config(args.resume)), overrides))
    else:
        cfg = load_config(args.config, overrides)
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

        metrics = evaluate(load_run(result.run_dir), "test", cfg.eval.every)
        print(f"test PSNR {metrics['psnr']:.2f} dB, SSIM {metrics['ssim']:.4f} "
              f"({len(metrics['views'])} views, {render_rate(metrics['seconds_per_view'], 'view')}; "
              f"appearance: {metrics['appearance']}) "
              f"-> {result.run_dir / 'eval_test'}")
    if args.report:
        from nerfspec.report import write_html_report

        print(f"report: {write_html_report([result.run_dir])}")
    return 0


def launch_data_parallel(n: int, argv: list[str]) -> int:
    """Re-run this command under torch.distributed.run with ``n`` processes."""
    import subprocess

    rest, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "--gpus":
            skip = True
            continue
        if not a.startswith("--gpus="):
            rest.append(a)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n}",
           "-m", "nerfspec", *rest]
    return subprocess.call(cmd)


def render_rate(seconds: float, unit: str) -> str:
    """'0.420 s per view, 2.38 frames/s (rendering)': a mean render time and the rate it gives."""
    return f"{seconds:.3f} s per {unit}, {1.0 / max(seconds, 1e-9):.2f} frames/s (rendering)"


def cmd_eval(args) -> int:
    from nerfspec.evaluate import evaluate
    from nerfspec.models import load_run

    run = load_run(args.run_dir, args.device)
    every = args.every if args.every is not None else run.cfg.eval.every
    if every < 1:
        raise NerfspecError(f"--every must be >= 1, got {every}")
    metrics = evaluate(run, args.split, every)
    print(f"{args.split} PSNR {metrics['psnr']:.2f} dB, SSIM {metrics['ssim']:.4f} over "
          f"{len(metrics['views'])} views, {render_rate(metrics['seconds_per_view'], 'view')}; "
          f"appearance: {metrics['appearance']} -> "
          f"{Path(args.run_dir) / ('eval_' + args.split) / 'metrics.json'}")
    for band in metrics.get("bands", []):
        print(f"  band {band['name']} ({band['cycles_per_unit']} cycles/unit): {band['psnr']:.2f} dB")
    return 0


def cmd_make_scene(args) -> int:
    from nerfspec.synth.generate import Photography, parse_distortion
    from nerfspec.synth import make_scene

    if args.background is not None and not args.no_alpha:
        raise NerfspecError("--background is what opaque views show: add --no-alpha")
    try:
        distortion = parse_distortion(args.distortion) if args.distortion is not None else ()
    except ValueError as exc:
        raise NerfspecError(f"--distortion: {exc}") from None
    model = args.camera_model or ("opencv" if distortion else "pinhole")
    photo = Photography(format=args.format, lens_model=model, distortion=distortion, alpha=not args.no_alpha,
                        background=args.background or "white", image_format=args.image_format,
                        variant=args.variant)
    out = make_scene(args.scene, args.out_dir, size=args.size, views=args.views, seed=args.seed, photo=photo)
    print(f"scene written to {out}")
    return 0


def cmd_check_data(args) -> int:
    from nerfspec.config import load_config
    from nerfspec.data.dataset import describe_split, is_capture, load_split, resolve_data

    given = load_config(None, [*args.overrides, f"data.root={args.root!r}"])
    cfg = resolve_data(given)
    for split in ("train", "val", "test"):
        print(describe_split(split, load_split(cfg.data, split)))
    if is_capture(args.root):
        from nerfspec.data.capture_report import report_lines
        from nerfspec.data.capture_layout import find_capture_file
        from nerfspec.data.transforms_json import parse_capture

        rows = [cfg.data.transform[4 * r:4 * r + 4] for r in range(3)]
        print("world -> scene: " + "; ".join(" ".join(f"{v if abs(v) > 5e-5 else 0.0:.4f}" for v in row) for row in rows)
              + f" (data.normalize = {cfg.data.normalize})")
        for line in report_lines(parse_capture(find_capture_file(args.root)), cfg.data, bool(given.data.transform)):
            print(line)
    return 0


def cmd_compare(args) -> int:
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
    pages = [Path(args.out) / name for name in ("report.md", "report.html") if (Path(args.out) / name).is_file()]
    print(f"report: {', '.join(map(str, pages))}")
    return 0


def cmd_render(args) -> int:
    from nerfspec.export import video
    from nerfspec.models import load_run

    num = video.parse_number
    if args.resolution is not None and args.downscale is not None:
        raise NerfspecError("give --resolution or --downscale, not both")
    if args.path not in video.PATHS:
        raise NerfspecError(f"--path must be one of {', '.join(video.PATHS)}, got {args.path!r}")
    if args.layout not in video.LAYOUTS:
        raise NerfspecError(f"--layout must be one of {', '.join(video.LAYOUTS)}, got {args.layout!r}")
    options = dict(
        path=args.path, frames=num("--frames", args.frames, int, 1), fps=num("--fps", args.fps, float, 0.01),
        resolution=video.parse_resolution(args.resolution) if args.resolution is not None else None,
        downscale=num("--downscale", args.downscale, int, 1) if args.downscale is not None else None,
        outputs=video.parse_outputs(args.outputs), layout=args.layout, gif=args.gif,
        keep_frames=args.keep_frames, out_dir=Path(args.out) if args.out else None,
        radius=num("--radius", args.radius, float, 1e-6) if args.radius is not None else None,
        elevation=num("--elevation", args.elevation, float, -90, 90) if args.elevation is not None else None,
        chunk_rays=num("--chunk", args.chunk, int, 1) if args.chunk is not None else None,
        smoothing=num("--smoothing", args.smoothing, float, 0))
    if args.device not in ("auto", "cpu", "cuda"):
        raise NerfspecError(f"--device must be auto, cpu or cuda, got {args.device!r}")
    result = video.render_video(load_run(args.run_dir, args.device), **options)
    for p in result.paths:
        print(p)
    print(f"{result.frames} frames at {result.width}x{result.height}, {render_rate(result.seconds_per_frame, 'frame')}")
    return 0


def cmd_view(args) -> int:
    from nerfspec.export.video import parse_number as num
    from nerfspec.viewer.server import require_viser

    port = num("--port", args.port, int, 0, 65535)
    preview = num("--preview-width", args.preview_width, int, 16, 4096)
    widest = num("--max-width", args.max_width, int, preview, 4096)
    if args.device not in ("auto", "cpu", "cuda"):
        raise NerfspecError(f"--device must be auto, cpu or cuda, got {args.device!r}")
    require_viser()
    from nerfspec.models import load_run
    from nerfspec.viewer.schedule import Refinement
    from nerfspec.viewer.live import open_run_viewer

    viewer = open_run_viewer(load_run(args.run_dir, args.device), "127.0.0.1", port, Refinement(preview, widest))
    print(f"viewer: {viewer.url} (Ctrl-C to stop)", flush=True)
    try:
        viewer.serve()
    finally:
        viewer.close()
    return 0


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


def cmd_mesh(args) -> int:
    import time

    from nerfspec.data.dataset import load_split
    from nerfspec.export import mesh as meshing
    from nerfspec.export.cleaning import CULL_RULES, CleanSpec, count_components
    from nerfspec.export.video import parse_number as num
    from nerfspec.models import load_run

    ex = meshing.Extraction(args.method, num("--resolution", args.resolution, int, 2, 1024),
                            num("--threshold", args.threshold, float, 1e-9), not args.full,
                            num("--tsdf-trunc", args.tsdf_trunc, float, 1e-9),
                            num("--tsdf-opacity", args.tsdf_opacity, float, 1e-9, 1.0))
    meshing.check_extraction(ex)
    if args.cull not in CULL_RULES:
        raise NerfspecError(f"--cull must be one of {', '.join(CULL_RULES)}, got {args.cull!r}")
    clean = CleanSpec(args.cull, num("--min-component", args.min_component, float, 0.0, 1.0))
    bbox = [num("--bbox", v, float) for v in args.bbox] if args.bbox else None
    if bbox is not None:
        meshing.check_bbox(bbox)
    min_faces = num("--min-component-faces", args.min_component_faces, int, 0)
    tau = num("--fscore-tau", args.fscore_tau, float, 1e-9)
    samples = num("--eval-samples", args.eval_samples, int, 100)
    chunk = num("--chunk", args.chunk, int, 1)
    if args.device not in ("auto", "cpu", "cuda"):
        raise NerfspecError(f"--device must be auto, cpu or cuda, got {args.device!r}")
    out = Path(args.out) if args.out else None
    fmt = meshing.output_format(out or Path("mesh"), args.format)
    run = load_run(args.run_dir, args.device)
    out = out or run.run_dir / "mesh" / f"mesh.{fmt}"
    views = load_split(run.cfg.data, "train") if (ex.method == "tsdf" or clean.cull != "none" or args.eval) else None
    t0 = time.perf_counter()
    mesh, timings = meshing.extract_mesh(run, bbox=bbox, keep_largest=args.keep_largest,
                                         min_component_faces=min_faces, colours=not args.no_colours,
                                         chunk=chunk, progress=True, keep_volume=args.eval, extraction=ex,
                                         clean=clean, views=views)
    seconds = time.perf_counter() - t0
    meshing.write_mesh(mesh, out, fmt)
    components = count_components(mesh)
    box = meshing.check_bbox(run.cfg.data.aabb if bbox is None else bbox)
    voxel = float((box[3:] - box[:3]).max()) / (ex.resolution - 1)
    print(f"{out}: {len(mesh.vertices)} vertices, {len(mesh.faces)} faces, {components} components, "
          f"watertight {mesh.is_watertight}")
    print(f"{ex.method} extraction in {seconds:.1f} s at {ex.resolution}^3, voxel {voxel:.4f} "
          f"({timings['queries']} {'density queries' if ex.method == 'density' else 'depth pixels'}, "
          f"{timings['density_s']:.1f} s; marching cubes and cleaning {timings['marching_cubes_s']:.1f} s; "
          f"colours {timings['colours_s']:.1f} s)")
    report = timings["cleaning"]
    print(f"cleaning ({clean.cull}, components under {clean.min_component:g} of the faces): "
          f"{report['removed_outside_frusta']} faces outside every frustum, {report['removed_by_silhouettes']} "
          f"on a silhouette's background, {report['removed_small_components']} in small pieces removed; "
          f"{report['components_before']} -> {report['components_after']} components")
    metrics = {"method": ex.method, "threshold": ex.threshold, "resolution": ex.resolution, "voxel": voxel,
               "mesh": str(out), "vertices": len(mesh.vertices), "faces": len(mesh.faces),
               "components": components, "watertight": bool(mesh.is_watertight), "cleaning": report,
               "extraction_s": seconds, "step": run.step}
    if ex.method == "tsdf":
        metrics.update(tsdf_trunc_voxels=ex.tsdf_trunc, tsdf_min_opacity=ex.tsdf_min_opacity)
    path = Path(args.metrics) if args.metrics else run.run_dir / "mesh" / "metrics.json"
    if args.eval:
        from nerfspec.export.mesh_eval import evaluate_geometry

        if voxel >= tau:
            print(f"note: a voxel ({voxel:.4f}) is not smaller than the F-score distance {tau:g}; "
                  "raise --resolution for a fair score", file=sys.stderr)
        metrics.update(evaluate_geometry(run, mesh, ex.threshold, tau, samples, volume=timings["volume"],
                                         volume_bbox=timings["bbox"], cameras=views.cameras,
                                         volume_level=timings["volume_level"]))
    meshing.write_metrics(path, metrics)
    if args.eval:
        if metrics["chamfer_l1"] is None:
            print(f"no surface: the density never reaches {ex.threshold:g} (try a lower --threshold); "
                  f"F-score 0, IoU {metrics['iou']:.3f} -> {path}")
        else:
            print(f"Chamfer-L1 {metrics['chamfer_l1']:.4f}, F-score@{tau:g} {metrics['fscore']:.3f} "
                  f"(precision {metrics['precision']:.3f}, recall {metrics['recall']:.3f}), "
                  f"IoU {metrics['iou']:.3f} -> {path}")
        if metrics.get("visible_precision") is not None:
            print(f"on the surface the training cameras see ({100 * metrics['gt_seen_fraction']:.0f}% of it): "
                  f"F-score@{tau:g} {metrics['visible_fscore']:.3f} (precision {metrics['visible_precision']:.3f}, "
                  f"recall {metrics['visible_recall']:.3f}), Chamfer-L1 {metrics['visible_chamfer_l1']:.4f}")
    return 0


def cmd_fit(args) -> int:
    from nerfspec.fit.cli import run_fit

    return run_fit(args)


def cmd_report(args) -> int:
    from nerfspec.report import write_html_report

    page = write_html_report(args.paths, args.out, progress=not args.quiet)
    print(f"report: {page} (open it in a browser; keep {page.stem}_assets/ beside it)")
    return 0


COMMANDS = {"train": cmd_train, "eval": cmd_eval, "make-scene": cmd_make_scene, "check-data": cmd_check_data,
            "compare": cmd_compare, "render": cmd_render, "mesh": cmd_mesh, "report": cmd_report, "fit": cmd_fit,
            "view": cmd_view}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    keep_freed_memory()
    try:
        return COMMANDS[args.command](args)
    except NerfspecError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # disk full, permissions: outputs are written atomically
        if args.debug:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
