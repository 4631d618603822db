"""The comparison's outputs: results.json, results.csv, report.md, and the PNG plots of plots.py.

``build_results`` turns the per-run rows of ``compare`` into the results dict (sweep choices
on the val split, per-field summaries, mean curves); ``write_report`` writes every file.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np

from nerfspec.compare.plots import make_plots
from nerfspec.spectrum import band_labels, power_db

CSV_COLUMNS = ["run", "field", "sweep", "value", "seed", "selected", "steps", "train_s",
               "samples_per_s", "rays_per_s", "params", "test_psnr", "test_ssim", "val_psnr",
               "val_ssim"]


# -- pure summaries -------------------------------------------------------------------------

def _mean(xs) -> float | None:
    xs = [x for x in xs if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return float(np.mean(xs)) if xs else None


def _std(xs) -> float | None:
    xs = [x for x in xs if x is not None]
    return float(np.std(xs)) if len(xs) > 1 else None


def choose_sweeps(rows: list[dict]) -> dict[str, dict]:
    """Per swept field: the value with the best mean val PSNR over seeds (Tancik et al.:
    tune on val, report test), with the table behind the choice::

        {"gauss": {"key": "gauss.sigma", "value": 2, "by": "val",
                   "table": [{"value", "val_psnr", "test_psnr", "seeds"}, ...]}}

    Without val metrics the choice falls back to test PSNR and ``by`` says so.
    """
    out = {}
    for fld in dict.fromkeys(r["field"] for r in rows if r["sweep"]):
        mine = [r for r in rows if r["field"] == fld]
        values = sorted({r["value"] for r in mine})
        table = [{"value": v,
                  "val_psnr": _mean(r["val_psnr"] for r in mine if r["value"] == v),
                  "test_psnr": _mean(r["test_psnr"] for r in mine if r["value"] == v),
                  "seeds": sum(r["value"] == v for r in mine)} for v in values]
        by = "val" if all(t["val_psnr"] is not None for t in table) else "test"
        scored = [t for t in table if t[f"{by}_psnr"] is not None]
        best = max(scored, key=lambda t: t[f"{by}_psnr"]) if scored else table[0]
        out[fld] = {"key": mine[0]["sweep"], "value": best["value"], "by": by, "table": table}
    return out


def mark_selected(rows: list[dict], choices: dict[str, dict]) -> list[dict]:
    """Set row["selected"]: unswept fields always, swept ones at their chosen value."""
    for r in rows:
        c = choices.get(r["field"])
        r["selected"] = c is None or r["value"] == c["value"]
    return rows


def mean_curve(rows: list[dict]) -> dict:
    """Curve points averaged over rows (seeds) at the indices all of them reached:
    {"index", "step", "elapsed_s", "psnr": lists (P,), "band_power": (B, P) nested list}."""
    if not rows or not all(r["curve"] for r in rows):
        return {"index": [], "step": [], "elapsed_s": [], "psnr": [], "band_power": []}
    common = sorted(set.intersection(*({p["index"] for p in r["curve"]} for r in rows)))
    pts = [[next(p for p in r["curve"] if p["index"] == i) for r in rows] for i in common]
    power = np.array([np.mean([p["band_power"] for p in ps], axis=0) for ps in pts])  # (P, B)
    return {"index": common,
            "step": [float(np.mean([p["step"] for p in ps])) for ps in pts],
            "elapsed_s": [float(np.mean([p["elapsed_s"] for p in ps])) for ps in pts],
            "psnr": [float(np.mean([p["psnr"] for p in ps])) for ps in pts],
            "band_power": power.T.tolist() if len(power) else []}


def field_label(fld: str, choice: dict | None) -> str:
    """'gauss (sigma=2)' for a swept field, else the field's name."""
    if choice is None:
        return fld
    return f"{fld} ({choice['key'].split('.')[-1]}={choice['value']:g})"


def summarise_fields(rows: list[dict], choices: dict[str, dict]) -> list[dict]:
    """One entry per field over its selected rows (mean over seeds; std of test PSNR)."""
    out = []
    for fld in dict.fromkeys(r["field"] for r in rows):
        sel = [r for r in rows if r["field"] == fld and r["selected"]]
        bands = {}
        for r in sel:
            for b in r["bands"]:
                bands.setdefault(b["name"], []).append(b["psnr"])
        curve = mean_curve(sel)
        out.append({
            "field": fld, "label": field_label(fld, choices.get(fld)), "runs": len(sel),
            "value": choices[fld]["value"] if fld in choices else None,
            "test_psnr": _mean(r["test_psnr"] for r in sel), "test_psnr_std": _std([r["test_psnr"] for r in sel]),
            "test_ssim": _mean(r["test_ssim"] for r in sel), "val_psnr": _mean(r["val_psnr"] for r in sel),
            "steps": _mean(r["steps"] for r in sel), "train_s": _mean(r["train_s"] for r in sel),
            "samples_per_s": _mean(r["samples_per_s"] for r in sel),
            "params": sel[0]["params"] if sel else None,
            "band_psnr": {k: float(np.mean(v)) for k, v in bands.items()},
            "curve": curve,
        })
    return out


def build_results(setup: dict, rows: list[dict]) -> dict:
    """The results dict: setup, runs (rows with ``selected``), sweep choices, field summaries."""
    choices = choose_sweeps(rows)
    mark_selected(rows, choices)
    edges = next((r["band_edges"] for r in rows if r.get("band_edges")), None)
    return {"setup": setup, "band_edges": edges,
            "band_labels": band_labels(np.array(edges)) if edges else None,
            "runs": rows, "sweeps": choices, "fields": summarise_fields(rows, choices)}


# -- files ----------------------------------------------------------------------------------

def results_csv(results: dict) -> str:
    """One row per run; per-band PSNR (band images) and final residual band power (dB)."""
    band_names = list(dict.fromkeys(b["name"] for r in results["runs"] for b in r["bands"]))
    n_res = len(results["band_edges"]) - 1 if results["band_edges"] else 0
    header = CSV_COLUMNS + [f"band_{n}_psnr" for n in band_names] + [f"resid_b{i}_db" for i in range(n_res)]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in results["runs"]:
        bands = {b["name"]: b["psnr"] for b in r["bands"]}
        last = r["curve"][-1]["band_power"] if r["curve"] else [None] * n_res
        w.writerow([_cell(r.get(c)) for c in CSV_COLUMNS] + [_cell(bands.get(n)) for n in band_names]
                   + [_cell(power_db(p) if p is not None else None) for p in last])
    return buf.getvalue()


def _cell(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return v


def _f(v, fmt="{:.2f}") -> str:
    return "–" if v is None else fmt.format(v)


def markdown(results: dict, plots: dict[str, str]) -> str:
    """report.md: set-up, per-field summary, runs, sweeps, curves, spectra, per-band PSNR."""
    s, fields, runs = results["setup"], results["fields"], results["runs"]
    budget = " and ".join(x for x in (f"{s['max_steps']} steps" if s["max_steps"] else "",
                                      f"{s['max_minutes']:g} min" if s["max_minutes"] else "") if x)
    lines = ["# Input mappings compared", "",
             f"Scene `{s['scene']}`; budget {budget or 'from the config'} per run (training time, "
             f"excluding evaluation); seeds {', '.join(map(str, s['seeds']))}; torch {s['torch']}.",
             "Test PSNR / SSIM are on the test split (white background); swept parameters are "
             "chosen by val PSNR and their test PSNR reported (Tancik et al. 2020).", "",
             "## Summary", "",
             "| field | test PSNR (dB) | SSIM | val PSNR | steps | train time (s) | samples/s | params | runs |",
             "|---|---|---|---|---|---|---|---|---|"]
    for f in fields:
        std = f" ± {f['test_psnr_std']:.2f}" if f["test_psnr_std"] is not None else ""
        lines.append(f"| {f['label']} | {_f(f['test_psnr'])}{std} | {_f(f['test_ssim'], '{:.4f}')} | "
                     f"{_f(f['val_psnr'])} | {_f(f['steps'], '{:.0f}')} | {_f(f['train_s'], '{:.1f}')} | "
                     f"{_f(f['samples_per_s'], '{:,.0f}')} | {_f(f['params'], '{:,}')} | {f['runs']} |")
    lines += ["", "## Runs", "",
              "| run | field | sweep | seed | test PSNR | SSIM | val PSNR | steps | train time (s) | samples/s | params |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        sweep = f"{r['sweep']}={r['value']:g}" + (" *" if r["selected"] else "") if r["sweep"] else ""
        lines.append(f"| {r['run']} | {r['field']} | {sweep} | {r['seed']} | {_f(r['test_psnr'])} | "
                     f"{_f(r['test_ssim'], '{:.4f}')} | {_f(r['val_psnr'])} | {r['steps']} | "
                     f"{r['train_s']:.1f} | {_f(r['samples_per_s'], '{:,.0f}')} | {_f(r['params'], '{:,}')} |")
    if results["sweeps"]:
        lines += ["", "\\* the value chosen on val.", "", "## Sweeps", ""]
        for fld, c in results["sweeps"].items():
            lines += [f"### {c['key']} (chosen by {c['by']} PSNR: {c['value']:g})", "",
                      f"| {c['key'].split('.')[-1]} | val PSNR | test PSNR | seeds |", "|---|---|---|---|"]
            for t in c["table"]:
                mark = " *" if t["value"] == c["value"] else ""
                lines.append(f"| {t['value']:g}{mark} | {_f(t['val_psnr'])} | {_f(t['test_psnr'])} | {t['seeds']} |")
            if f"sweep_{fld}" in plots:
                lines += ["", f"![{c['key']} sweep]({plots[f'sweep_{fld}']})"]
            lines.append("")
    lines += ["", "## Training curves", "",
              f"Test PSNR of a subset of the test views at {s['curve_points']} evenly spaced points of "
              "the budget (the final column of the table above uses every evaluated view).", ""]
    for key in ("psnr_vs_time", "psnr_vs_steps"):
        if key in plots:
            lines.append(f"![{key}]({plots[key]})")
    if results["band_edges"]:
        labels = results["band_labels"]
        lines += ["", "## Residual spectrum", "",
                  "Power of the residual (render - ground truth) of the curve views per radial "
                  "frequency band (2D FFT, octave bands named by their period in pixels), in dB "
                  "(10 log10; the bands add up to the MSE, so lower is better and the total is -PSNR). "
                  "At the end of training:", "",
                  "| field | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
        for f in fields:
            bp = f["curve"]["band_power"]
            cells = [_f(power_db(row[-1]), "{:.1f}") for row in bp] if bp else ["–"] * len(labels)
            lines.append(f"| {f['label']} | " + " | ".join(cells) + " |")
        lines.append("")
        if "spectrum_final" in plots:
            lines.append(f"![final residual spectrum]({plots['spectrum_final']})")
        lines += ["", "Which bands are learned when (band x training step):", ""]
        for f in fields:
            if f"spectrum_{f['field']}" in plots:
                lines.append(f"![{f['label']}]({plots['spectrum_' + f['field']]})")
    names = list(dict.fromkeys(n for f in fields for n in f["band_psnr"]))
    if names:
        lines += ["", "## Per-band PSNR (scene band images)", "",
                  "| field | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
        for f in fields:
            lines.append(f"| {f['label']} | " + " | ".join(_f(f["band_psnr"].get(n)) for n in names) + " |")
        if "bands" in plots:
            lines += ["", f"![per-band PSNR]({plots['bands']})"]
    return "\n".join(lines) + "\n"


def write_report(results: dict, out: str | Path) -> dict[str, Path]:
    """Write results.json, results.csv, the plots and report.md into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plots = make_plots(results, out)
    results["plots"] = plots
    return write_result_files(out, results, results_csv(results), markdown(results, plots))


def write_result_files(out: Path, results: dict, csv_text: str, md_text: str) -> dict[str, Path]:
    """results.json, results.csv and report.md into ``out``, each written atomically."""
    from nerfspec.run import atomic_write_bytes

    files = {"json": out / "results.json", "csv": out / "results.csv", "md": out / "report.md"}
    atomic_write_bytes(files["json"], json.dumps(results, indent=1).encode())
    atomic_write_bytes(files["csv"], csv_text.encode())
    atomic_write_bytes(files["md"], md_text.encode())
    return files
