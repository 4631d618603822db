"""The fit experiment's outputs: results.json, results.csv, report.md and PNG plots.

``summarise`` reduces the runs to one entry per (column, mapping); ``write_fit_report``
writes every file. Plots: metric against step per column, the scale sweeps, the residual
spectrum at the end (images) and example crops (images).
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from nerfspec.compare.plots import finish, pyplot
from nerfspec.compare.results import write_result_files
from nerfspec.spectrum import power_db
from nerfspec.spectrum import band_labels

CSV_COLUMNS = ["run", "split", "column", "target", "mapping", "scale", "test_psnr", "train_psnr",
               "iou", "iou_uniform", "train_s", "steps", "params"]
LABEL = {"test_psnr": "test PSNR (dB)", "iou": "IoU (near-surface points)"}


def mean_curve(rows: list[dict], metric: str) -> dict:
    """Curve points averaged over rows at the steps all of them have: {"step", metric,
    "band_power" (B, P) or []}."""
    if not rows or not all(r.get("curve") for r in rows):
        return {"step": [], metric: [], "band_power": []}
    steps = sorted(set.intersection(*({p["step"] for p in r["curve"]} for r in rows)))
    pts = [[next(p for p in r["curve"] if p["step"] == s) for r in rows] for s in steps]
    curve = {"step": steps, metric: [float(np.mean([p[metric] for p in ps])) for ps in pts], "band_power": []}
    if all("band_power" in p for ps in pts for p in ps):
        curve["band_power"] = np.array([np.mean([p["band_power"] for p in ps], axis=0) for ps in pts]).T.tolist()
    return curve


def summarise(results: dict) -> list[dict]:
    """One entry per (column, mapping) over its test runs: mean and std of the metric, the
    chosen scale, the paper's value, mean training seconds, parameters, the mean curve."""
    metric, out = results["metric"], []
    tests = [r for r in results["runs"] if r["split"] == "test"]
    for column in dict.fromkeys(r["column"] for r in tests):
        for mapping in dict.fromkeys(r["mapping"] for r in tests):
            rows = [r for r in tests if r["column"] == column and r["mapping"] == mapping]
            if not rows:
                continue
            vals = [r[metric] for r in rows]
            paper = (results["paper"].get(column) or {}).get(mapping)
            out.append({"column": column, "mapping": mapping, "scale": rows[0]["scale"], "n": len(rows),
                        "mean": float(np.mean(vals)), "std": float(np.std(vals)) if len(vals) > 1 else None,
                        "paper": paper, "train_s": float(np.mean([r["train_s"] for r in rows])),
                        "params": rows[0]["params"], "curve": mean_curve(rows, metric),
                        "afe_tokens": float(np.mean([sum(len(a["freqs"]) for a in r.get("afe", [])) for r in rows]))})
    return out


def results_csv(results: dict) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in results["runs"]:
        w.writerow(["" if r.get(c) is None else (f"{r[c]:.6g}" if isinstance(r[c], float) else r[c])
                    for c in CSV_COLUMNS])
    return buf.getvalue()


def _fmt(v, spec: str) -> str:
    return "–" if v is None else format(v, spec)


def markdown(results: dict, plots: dict[str, str]) -> str:
    metric, s, mach = results["metric"], results["setup"], results["machine"]
    fmt = ".2f" if metric == "test_psnr" else ".3f"
    title = "2D image regression" if results["task"] == "image" else "3D shape occupancy"
    lines = [f"# {title}: input mappings against Tancik et al. (2020), Table 1", "",
             f"Targets: {', '.join(s['sources'])}; validation: {', '.join(s['val_sources']) or 'built-in val sets'}. "
             f"{s['steps']} steps per test run, sweeps with {s['sweep_steps'] or s['steps']} steps. "
             f"Machine: {mach['cpu']} ({'bf16 units' if mach['bf16_units'] else 'no bf16 units'}), "
             f"{mach['threads']} threads, torch {mach['torch']}.", ""]
    if results["task"] == "image":
        lines.append(f"Images {s['size']}x{s['size']}, trained on the regular grid of every other pixel "
                     f"(1/4), PSNR on the other 3/4; {s['depth'] or 4}x{s['width']} ReLU MLP, sigmoid, L2, "
                     f"Adam lr {s['lr'] or 1e-3:g}, full batch; {s['features']} frequencies.")
    else:
        lines.append(f"Meshes normalised to [0, 1]; {s['depth'] or 8}x{s['width']} ReLU MLP, cross-entropy, "
                     f"Adam lr {s['lr'] or 5e-4:g} decayed to {s['lr_decay'] or 0.01:g}x over the run, {s['batch']} uniform points per step "
                     f"(drawn from a pre-labelled pool of {s['pool']:,}); IoU on {s['test_points']:,} points near the surface "
                     f"(surface + N(0, 0.01^2)).")
    lines += ["", "## Results (test targets)", "",
              f"| column | mapping | scale | {LABEL[metric]} | std | paper | train s/run | params | runs |",
              "|---|---|---|---|---|---|---|---|---|"]
    for e in results["summary"]:
        lines.append(f"| {e['column']} | {e['mapping']} | {_fmt(e['scale'], 'g')} | {e['mean']:{fmt}} | "
                     f"{_fmt(e['std'], fmt)} | {_fmt(e['paper'], fmt)} | {e['train_s']:.0f} | {e['params']:,} | {e['n']} |")
    if results["sweeps"]:
        lines += ["", "## Scale sweeps (validation targets)", ""]
        for column, per in results["sweeps"].items():
            for mapping, sw in per.items():
                cells = ", ".join(f"{t['value']:g}: {t['val']:{fmt}}" + (" *" if t["value"] == sw["chosen"] else "")
                                  for t in sw["table"])
                lines.append(f"- {column} / {mapping} ({', '.join(sw['targets'])}, {sw['steps']} steps): {cells}")
    for key, text in (("curves", "Training curves"), ("sweeps", "Sweep curves"), ("spectra", "Residual spectra"),
                      ("crops", "Example crops")):
        items = [v for k, v in plots.items() if k.startswith(key)]
        if items:
            lines += ["", f"## {text}", ""] + [f"![{Path(p).stem}]({p})" for p in items]
    return "\n".join(lines) + "\n"


def plot_curves(summary: list[dict], column: str, metric: str, path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    for e in summary:
        if e["column"] == column and e["curve"]["step"]:
            ax.plot(e["curve"]["step"], e["curve"][metric], marker="o", ms=3, label=e["mapping"])
    ax.set_xlabel("training step")
    ax.set_ylabel(LABEL[metric] + " (mean over targets)")
    ax.set_title(f"{column}: {LABEL[metric]} against steps")
    finish(plt, fig, ax, path)


def plot_sweeps(per: dict, column: str, metric: str, path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 4.0), dpi=110)
    for mapping, sw in per.items():
        xs = [t["value"] for t in sw["table"]]
        line = ax.plot(xs, [t["val"] for t in sw["table"]], marker="o", label=mapping)[0]
        ax.axvline(sw["chosen"], color=line.get_color(), ls="--", lw=0.8)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("scale (cycles per unit; pe: top frequency, gauss: sigma, rffca: base sigma)")
    ax.set_ylabel("validation " + LABEL[metric])
    ax.set_title(f"{column}: scale sweeps (dashed: chosen)")
    finish(plt, fig, ax, path)


def plot_spectrum(summary: list[dict], column: str, labels: list[str], path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    for e in summary:
        bp = e["curve"]["band_power"]
        if e["column"] == column and bp:
            ax.plot(range(len(bp)), [power_db(row[-1]) for row in bp], marker="o", ms=3, label=e["mapping"])
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel("frequency band of the full-image residual (period; low frequencies left)")
    ax.set_ylabel("residual power (dB)")
    ax.set_title(f"{column}: residual spectrum at the end (lower is better)")
    finish(plt, fig, ax, path)


def plot_crops(out: Path, target: str, mappings: list[str], truth: np.ndarray | None, path: Path) -> bool:
    """The central quarter of the target and of each mapping's prediction, side by side."""
    import imageio.v3 as iio

    panels = [("target", truth)] if truth is not None else []
    for m in mappings:
        p = out / "predictions" / f"{m}_{target}.png"
        if p.is_file():
            panels.append((m, iio.imread(p)))
    if len(panels) < 2:
        return False
    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(2.4 * len(panels), 2.7), dpi=110)
    for ax, (name, img) in zip(axes, panels):
        h, w = img.shape[:2]
        ax.imshow(img[h // 4:3 * h // 4, w // 4:3 * w // 4], interpolation="nearest")
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    fig.suptitle(f"{target}: central crop", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def write_fit_report(results: dict, out: Path, truths: dict | None = None) -> dict[str, Path]:
    """Write results.json, results.csv, the plots and report.md into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    metric = results["metric"]
    results["summary"] = summarise(results)
    plots = {}
    columns = list(dict.fromkeys(e["column"] for e in results["summary"]))
    edges = next((r.get("band_edges") for r in results["runs"] if r.get("band_edges")), None)
    for column in columns:
        plot_curves(results["summary"], column, metric, out / f"curves_{column}.png")
        plots[f"curves_{column}"] = f"curves_{column}.png"
        if column in results["sweeps"]:
            plot_sweeps(results["sweeps"][column], column, metric, out / f"sweeps_{column}.png")
            plots[f"sweeps_{column}"] = f"sweeps_{column}.png"
        if edges:
            labels = band_labels(np.array([math.inf if e is None else e for e in edges]))
            plot_spectrum(results["summary"], column, labels, out / f"spectra_{column}.png")
            plots[f"spectra_{column}"] = f"spectra_{column}.png"
            first = next(r["target"] for r in results["runs"] if r["split"] == "test" and r["column"] == column)
            truth = (truths or {}).get(first)
            mappings = list(dict.fromkeys(e["mapping"] for e in results["summary"]))
            if plot_crops(out, first, mappings, truth, out / f"crops_{column}.png"):
                plots[f"crops_{column}"] = f"crops_{column}.png"
    results["plots"] = plots
    return write_result_files(out, results, results_csv(results), markdown(results, plots))
