"""``nerfspec perturb``: a copy of a scene with noisy training poses, BARF's synthetic protocol."""

from __future__ import annotations

from nerfspec.errors import NerfspecError


def add_parser(sub) -> None:
    """The ``perturb`` subcommand on the CLI's subparsers."""
    p = sub.add_parser("perturb", help="copy a scene with noisy training poses (BARF's protocol)",
                       description="Write a copy of a scene (Blender or capture) whose training poses carry "
                       "noise, with the true ones beside it in OUT/poses_true.json, so that a run with "
                       "train.refine_poses = true can be scored (nerfspec eval reports the cameras' rotation "
                       "and translation errors). By default BARF's se(3) noise: every entry of a twist ~ "
                       "N(0, sigma^2), sigma 0.15, applied as W' = W exp(xi) to each world-to-camera W; with "
                       "--rotation-deg / --translation, motions of exactly that size in random directions. "
                       "Images are hard-linked (or copied).")
    p.add_argument("data", help="scene folder (transforms_*.json, or a capture's transforms.json)")
    p.add_argument("out", help="output folder (must not exist; --force replaces an earlier perturbed copy)")
    p.add_argument("--sigma", type=float, default=0.15, help="std of each se(3) entry (default 0.15, BARF's)")
    p.add_argument("--rotation-deg", type=float, help="rotate each camera by exactly this many degrees instead")
    p.add_argument("--translation", type=float, help="move each camera by exactly this distance (scene units) instead")
    p.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    p.add_argument("--force", action="store_true", help="replace OUT when it is an earlier perturbed copy")


def run(args) -> int:
    from nerfspec.poses.perturb import Noise, perturb_scene

    for flag, value in (("--sigma", args.sigma), ("--rotation-deg", args.rotation_deg),
                        ("--translation", args.translation)):
        if value is not None and not value >= 0:
            raise NerfspecError(f"{flag} must be >= 0, got {value}")
    summary = perturb_scene(args.data, args.out, Noise(args.sigma, args.rotation_deg, args.translation, args.seed),
                            force=args.force)
    kind = (f"se(3) noise sigma {summary['sigma']:g}" if summary["noise"] == "se3" else
            f"{summary['rotation_deg']:g} deg, {summary['translation']:g} units")
    print(f"{args.out}: {summary['views']} training poses of {summary['file']} perturbed ({kind}, seed "
          f"{summary['seed']}): mean rotation {summary['rotation_deg']:.2f} deg, centres moved "
          f"{summary['centre']:.3f}; after the best similarity alignment {summary['aligned_rotation_deg']:.2f} deg, "
          f"translation {summary['aligned_translation']:.3f}; true poses in {args.out}/poses_true.json")
    return 0
