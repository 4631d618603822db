"""``nerfspec report``: one HTML page for a run, several runs side by side, or a ``nerfspec
compare`` folder, written with its assets folder beside it.

Page data (the JSON the page draws itself from)::

    {"kind": "run" | "runs" | "compare", "title", "subtitle", "generated", "version",
     "runs": [run_data(...), ...], "compare": compare_data(...) | None, "notes": [...],
     "colorbar": data URI, "error_vmax": float}
"""

from __future__ import annotations

import time
from pathlib import Path

from nerfspec.errors import NerfspecError, OutputError
from nerfspec.report import images
from nerfspec.report.assets import AssetWriter
from nerfspec.report.compare_data import compare_data, is_compare_dir, read_results, run_folder, shown_runs
from nerfspec.report.run_data import GroundTruth, run_data
from nerfspec.run_layout import CONFIG_NAME, PAGE_NAME, is_run_dir, page_path


def classify(paths: list[str | Path]) -> tuple[str, list[Path]]:
    """("compare", [dir]) for one ``nerfspec compare`` folder, else ("run" | "runs", run dirs);
    NerfspecError naming the first path that is neither."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise NerfspecError("give a run directory, several, or a nerfspec compare folder")
    for p in paths:
        if not p.is_dir():
            raise NerfspecError(f"{p}: no such directory")
        if is_compare_dir(p):
            if len(paths) > 1:
                raise NerfspecError(f"{p}: a comparison folder makes a page of its own; give it alone")
            return "compare", [p]
        if not is_run_dir(p):
            raise NerfspecError(f"{p}: not a run directory (no {CONFIG_NAME}) nor a nerfspec compare "
                                "folder (no results.json and runs/)")
    if len({p.resolve() for p in paths}) != len(paths):
        raise NerfspecError("the same run is given twice")
    return ("run" if len(paths) == 1 else "runs"), paths


def default_out(kind: str, paths: list[Path]) -> Path:
    """RUN/report.html, COMPARE_DIR/report.html, or ./report.html for several runs."""
    return page_path(paths[0]) if kind in ("run", "compare") else Path(PAGE_NAME)


def check_out(out: Path) -> Path:
    if out.suffix.lower() not in (".html", ".htm"):
        raise NerfspecError(f"--out {out}: the page's file name must end in .html")
    if out.is_dir():
        raise NerfspecError(f"--out {out}: is a directory; give a file name ending in .html")
    return out


def run_labels(paths: list[Path]) -> list[str]:
    """Folder names, with the parent folder added where two runs share a name."""
    names = [p.name for p in paths]
    return [f"{p.parent.name}/{p.name}" if names.count(p.name) > 1 else p.name for p in paths]


def page_data(kind: str, paths: list[Path], assets: AssetWriter, progress: bool = False) -> dict:
    """The page's JSON (see the module docstring)."""
    from nerfspec import __version__

    gt = GroundTruth()
    notes: list[str] = []
    cmp = None
    if kind == "compare":
        results = read_results(paths[0])
        rows = shown_runs(results)
        labels = {f["field"]: f.get("label", f["field"]) for f in results["fields"]}
        run_dirs, labels_shown = [], []
        for row in rows:
            folder = run_folder(paths[0], row)
            if folder.is_dir():
                run_dirs.append(folder)
                labels_shown.append(labels.get(row.get("field"), row.get("run")))
            else:
                notes.append(f"{folder}: run folder missing; its views, curves and mesh are left out")
        cmp = compare_data(paths[0], results)
        title = f"comparison {paths[0].resolve().name}"
        subtitle = f"{paths[0].resolve()} · {', '.join(f.get('label', f['field']) for f in results['fields'])}"
    else:
        run_dirs, labels_shown = paths, run_labels(paths)
    runs = []
    for folder, label in zip(run_dirs, labels_shown):
        entry = run_data(folder, assets, gt, progress)
        entry["label"] = label
        runs.append(entry)
    if kind == "run":
        title = runs[0]["name"]
        info = runs[0]["info"]
        dataset = info.get("dataset", {}).get("value") or {}
        subtitle = f"{paths[0].resolve()} · mapping {runs[0]['encoding']} · scene {dataset.get('root', '?')}"
    elif kind == "runs":
        title = " vs ".join(r["label"] for r in runs)
        subtitle = " · ".join(str(p.resolve()) for p in paths)
    return {"kind": kind, "title": title, "subtitle": subtitle,
            "generated": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "version": __version__,
            "runs": runs, "compare": cmp, "notes": notes,
            "colorbar": assets.add_bytes("colorbar.png", images.png_bytes(images.colorbar()), "image/png",
                                         inline=True),
            "error_vmax": images.ERROR_VMAX}


def write_html_report(paths: list[str | Path], out: str | Path | None = None, progress: bool = True) -> Path:
    """Write the page for ``paths`` (one run, several, or one compare folder) to ``out``
    (default: see ``default_out``) and its assets beside it; returns the page's path."""
    from nerfspec.report.html import render_html
    from nerfspec.run import atomic_write_bytes, describe_os_error

    kind, paths = classify(paths)
    out = check_out(Path(out) if out is not None else default_out(kind, paths))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        assets = AssetWriter(out)
        data = page_data(kind, paths, assets, progress)
        with_mesh = any(r.get("mesh") or r.get("gt_mesh") for r in data["runs"])
        atomic_write_bytes(out, render_html(data, with_mesh).encode("utf-8"))
        assets.finish()
    except OSError as exc:
        raise OutputError(f"cannot write the report {out} ({describe_os_error(exc)})") from None
    return out
