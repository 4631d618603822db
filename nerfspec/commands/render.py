"""``nerfspec render``: a camera path of a trained run to MP4 (and GIF)."""

from __future__ import annotations

from pathlib import Path

from nerfspec.commands.common import check_device, render_rate
from nerfspec.errors import NerfspecError


def add_parser(sub) -> None:
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


def run(args) -> int:
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
        smoothing=num("--smoothing", args.smoothing, float, 0))
    chunk = num("--chunk", args.chunk, int, 1) if args.chunk is not None else None
    check_device(args.device)
    loaded = load_run(args.run_dir, args.device)
    result = video.render_video(loaded, loaded.cfg.data, chunk_rays=chunk or loaded.cfg.eval.chunk_rays, **options)
    for p in result.paths:
        print(p)
    print(f"{result.frames} frames at {result.width}x{result.height}, {render_rate(result.seconds_per_frame, 'frame')}")
    return 0
