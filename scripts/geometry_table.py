"""Markdown table of scripts/geometry_table.sh's runs: one row per scene, field, regulariser,
extractor and cleaning, with the mesh's F-score@tau (precision / recall) on the visible surface,
the visible precision by the true surface's occlusion, the F-score on the full ground-truth
surface, Chamfer-L1, components and the run's test PSNR.

Reads OUT/<scene>_<field>_<reg>/eval_test/metrics.json (PSNR) and
OUT/<scene>_<field>_<reg>/meshes/<method>_<cleaning>.json (written by nerfspec mesh --eval;
cleaning raw, silhouette or depth, the --cull rule).
Usage: python scripts/geometry_table.py [OUT]      (default outputs/geometry_table; also OUT/table.md)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from nerfspec.export.mesh_summary import REMOVED_KEYS
from nerfspec.run_layout import eval_metrics_path

METHODS = {"density": "marching cubes", "tsdf": "TSDF"}
CLEANINGS = ("raw", "silhouette", "depth")
# run-name suffix -> the regularisers it trains with (scripts/geometry_table.sh reg_settings)
REGULARISERS = {"off": "none", "on": "both", "dist": "distortion", "bg": "background"}
HEADER = ("| scene | field | regulariser | extractor | cleaning | F visible (P / R) | P true occl. | F full "
          "| Chamfer-L1 | components | faces removed | test PSNR | steps |")


def _load(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _num(value, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def rows(out: Path) -> list[str]:
    """One markdown row per mesh metrics file under ``out``, sorted by scene, field, regulariser."""
    lines = []
    for run in sorted(p for p in out.iterdir() if p.is_dir() and (p / "meshes").is_dir()):
        scene, field, reg = (run.name.split("_", 2) + ["", ""])[:3]
        ev = _load(eval_metrics_path(run, "test")) or {}
        for method in METHODS:
            for clean in CLEANINGS:
                m = _load(run / "meshes" / f"{method}_{clean}.json")
                if m is None:
                    continue
                c = m.get("cleaning", {})
                removed = sum(c.get(k, 0) for k in REMOVED_KEYS)
                lines.append(
                    f"| {scene} | {field} | {REGULARISERS.get(reg, reg)} | {METHODS[method]} {m.get('resolution')}^3 "
                    f"| {clean} | {_num(m.get('visible_fscore'), '.3f')} ({_num(m.get('visible_precision'), '.3f')} / "
                    f"{_num(m.get('visible_recall'), '.3f')}) | {_num(m.get('visible_precision_true_occlusion'), '.3f')} "
                    f"| {_num(m.get('fscore'), '.3f')} "
                    f"| {_num(m.get('chamfer_l1'), '.4f')} | {m.get('components')} | {removed} "
                    f"| {_num(ev.get('psnr'), '.2f')} | {ev.get('step', '-')} |")
    return lines


def main(argv: list[str]) -> int:
    out = Path(argv[1] if len(argv) > 1 else "outputs/geometry_table")
    if not out.is_dir():
        print(f"error: {out}: no such folder (run scripts/geometry_table.sh first)", file=sys.stderr)
        return 2
    body = rows(out)
    if not body:
        print(f"error: {out}: no meshed runs (<run>/meshes/*.json)", file=sys.stderr)
        return 2
    sep = "|" + "---|" * (HEADER.count("|") - 1)
    text = "\n".join([HEADER, sep, *body]) + "\n"
    (out / "table.md").write_text(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
