"""A comparison's part of a report page: the ``nerfspec compare`` results (summary per field,
runs, PSNR curves, residual spectra in dB, sweeps) and which run of each field to show in full."""

from __future__ import annotations

import math
from pathlib import Path

from nerfspec.errors import NerfspecError
from nerfspec.spectrum import power_db
from nerfspec.report.run_info import read_json

RESULTS_NAME = "results.json"


def is_compare_dir(path: Path) -> bool:
    return (path / RESULTS_NAME).is_file() and (path / "runs").is_dir()


def read_results(cmp_dir: Path) -> dict:
    """OUT/results.json of ``nerfspec compare``; NerfspecError when missing or malformed."""
    results = read_json(cmp_dir / RESULTS_NAME)
    if results is None or not isinstance(results.get("fields"), list) or not isinstance(results.get("runs"), list):
        raise NerfspecError(f"{cmp_dir / RESULTS_NAME}: not a nerfspec compare results file "
                            "(needs 'fields' and 'runs' lists)")
    return results


def run_folder(cmp_dir: Path, row: dict) -> Path:
    """Where a result row's run lives: OUT/runs/<run> (the folder may have moved since), else
    the path recorded at the time."""
    here = cmp_dir / "runs" / str(row.get("run", ""))
    return here if here.is_dir() else Path(str(row.get("run_dir", here)))


def shown_runs(results: dict) -> list[dict]:
    """One row per field, in the fields' order: its selected row with the lowest seed (the
    chosen sweep value, if swept)."""
    out = []
    for f in results["fields"]:
        rows = [r for r in results["runs"] if r.get("field") == f.get("field") and r.get("selected", True)]
        if rows:
            out.append(min(rows, key=lambda r: r.get("seed") or 0))
    return out


def spectrum_db(band_power: list[list[float]]) -> list[list[float]]:
    """Residual band power (B, P) -> 10 log10 power (B, P), the heatmap cells."""
    return [[power_db(p) for p in row] for row in band_power]


def clean(x):
    """JSON-safe copy: non-finite floats -> None (results.json may hold NaN)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [clean(v) for v in x]
    return x


def compare_data(cmp_dir: Path, results: dict) -> dict:
    """The comparison section's data; the full runs are added by the page builder."""
    fields = []
    for f in results["fields"]:
        curve = f.get("curve") or {}
        fields.append({**{k: v for k, v in f.items() if k != "curve"},
                       "curve": {k: curve.get(k, []) for k in ("step", "elapsed_s", "psnr")},
                       "spectrum_db": spectrum_db(curve.get("band_power") or [])})
    runs = [{k: v for k, v in r.items() if k not in ("curve", "bands", "band_edges")} for r in results["runs"]]
    return clean({"dir": str(cmp_dir), "setup": results.get("setup", {}), "fields": fields, "runs": runs,
                  "sweeps": results.get("sweeps", {}), "band_labels": results.get("band_labels"),
                  "wall_s": results.get("wall_s")})
