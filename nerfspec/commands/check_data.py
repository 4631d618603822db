"""``nerfspec check-data``: load a dataset as training would and say what was read."""

from __future__ import annotations


def add_parser(sub) -> None:
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


def run(args) -> int:
    from nerfspec.config import load_config
    from nerfspec.data.dataset import describe_dataset

    for line in describe_dataset(load_config(None, [*args.overrides, f"data.root={args.root!r}"])):
        print(line)
    return 0
