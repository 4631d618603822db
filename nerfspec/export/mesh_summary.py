"""One sentence on how a mesh was made, from its metrics.json (nerfspec mesh): extractor,
resolution and voxel, cleaning and the faces each rule removed, and the score when evaluated.
``python -m nerfspec.export.mesh_summary METRICS.json`` prints it (make demo's closing message)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

EXTRACTORS = {"density": "marching cubes on the density", "tsdf": "TSDF fusion of rendered depth"}
# the faces each cleaning rule removed, as nerfspec mesh counts them in metrics.json "cleaning"
REMOVED_KEYS = ("removed_outside_frusta", "removed_by_silhouettes", "removed_behind_depth",
                "removed_small_components")


def mesh_summary(metrics: dict) -> str:
    """The sentence for a mesh's metrics dict (keys as nerfspec mesh writes them)."""
    c = metrics.get("cleaning", {})
    method = metrics.get("method", "density")
    level = (f"density {metrics['threshold']:g}" if method == "density" and "threshold" in metrics else "")
    made = (f"{EXTRACTORS.get(method, method)}{' (' + level + ')' if level else ''} at "
            f"{metrics.get('resolution')}^3 (voxel {metrics.get('voxel', float('nan')):.4f})")
    removed = [c.get(k, 0) for k in REMOVED_KEYS]  # a metrics.json from before the depth rule lacks its key
    if c.get("cull", "none") == "none" and not c.get("min_component"):
        cleaning = "not cleaned"
    else:
        cleaning = (f"cleaned (cull {c.get('cull')}, pieces under {c.get('min_component', 0):g} of the faces): "
                    f"{removed[0]} faces outside every frustum, {removed[1]} on a silhouette's background, "
                    f"{removed[2]} behind every view's rendered surface, "
                    f"{removed[3]} in small pieces removed, {c.get('components_before')} -> "
                    f"{c.get('components_after')} components")
    text = f"mesh: {made}, {cleaning}; {metrics.get('faces')} faces"
    if metrics.get("visible_fscore") is not None:
        text += (f"; F-score@{metrics.get('fscore_tau', 0.02):g} {metrics['visible_fscore']:.3f} on the seen "
                 f"surface, {metrics['fscore']:.3f} on all of it")
    return text


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("error: usage: python -m nerfspec.export.mesh_summary METRICS.json", file=sys.stderr)
        return 2
    try:
        metrics = json.loads(Path(argv[1]).read_text())
    except (OSError, ValueError) as exc:
        print(f"error: {argv[1]}: cannot read mesh metrics ({type(exc).__name__})", file=sys.stderr)
        return 2
    print(mesh_summary(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
