"""``nerfspec make-scene``: render a scene description into a dataset on disk."""

from __future__ import annotations

from nerfspec.errors import NerfspecError


def add_parser(sub) -> None:
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


def run(args) -> int:
    from nerfspec.synth import make_scene
    from nerfspec.synth.generate import Photography, parse_distortion

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
