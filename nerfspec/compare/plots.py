"""The comparison's PNG plots (matplotlib, Agg): PSNR curves, residual spectra, sweeps, per-band
PSNR."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nerfspec.spectrum import power_db


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt



def finish(plt, fig, ax, path: Path) -> None:
    """Grid, legend, tight layout; write the PNG and free the figure."""
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

def plot_curves(fields: list[dict], x: str, path: Path) -> None:
    """Test-subset PSNR against ``x`` ("elapsed_s" or "step"), one line per field."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    for f in fields:
        c = f["curve"]
        if c["psnr"]:
            xs = [v / 60.0 for v in c["elapsed_s"]] if x == "elapsed_s" else c["step"]
            ax.plot(xs, c["psnr"], marker="o", ms=3, label=f["label"])
    ax.set_xlabel("training time (min)" if x == "elapsed_s" else "training step")
    ax.set_ylabel("test PSNR (dB, curve subset)")
    ax.set_title("PSNR against " + ("wall time" if x == "elapsed_s" else "steps"))
    finish(plt, fig, ax, path)


def plot_spectrum_heatmap(field: dict, labels: list[str], vmin: float, vmax: float, path: Path) -> None:
    """Residual band power (dB) of one field: bands (low at the bottom) x curve points."""
    plt = pyplot()
    c = field["curve"]
    db = np.array([[power_db(p) for p in row] for row in c["band_power"]])  # (B, P)
    fig, ax = plt.subplots(figsize=(1.6 + 0.55 * db.shape[1], 1.4 + 0.38 * db.shape[0]), dpi=110)
    im = ax.imshow(db, origin="lower", aspect="auto", cmap="magma", vmin=vmin, vmax=vmax)
    ax.set_xticks(range(db.shape[1]), [f"{s:.0f}" for s in c["step"]], rotation=45, fontsize=7)
    ax.set_yticks(range(db.shape[0]), labels, fontsize=7)
    ax.set_xlabel("training step")
    ax.set_ylabel("band (period)")
    ax.set_title(f"{field['label']}: residual power (dB)", fontsize=9)
    if db.size <= 120:
        mid = (vmin + vmax) / 2
        for (i, j), v in np.ndenumerate(db):
            ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=6,
                    color="black" if v > mid else "white")
    fig.colorbar(im, ax=ax, label="10 log10 power")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_spectrum_final(fields: list[dict], labels: list[str], path: Path) -> None:
    """Residual band power (dB) at the end of training against band, one line per field."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    for f in fields:
        bp = f["curve"]["band_power"]
        if bp:
            ax.plot(range(len(bp)), [power_db(row[-1]) for row in bp], marker="o", ms=3, label=f["label"])
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel("frequency band (period; low frequencies left)")
    ax.set_ylabel("residual power (dB)")
    ax.set_title("Residual spectrum at the end of training (lower is better)")
    finish(plt, fig, ax, path)


def plot_sweep(fld: str, choice: dict, rows: list[dict], path: Path) -> None:
    """Val and test PSNR against the swept value (log axis), seeds as dots, choice marked."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 4.0), dpi=110)
    t = choice["table"]
    xs = [r["value"] for r in t]
    for split, marker in (("val", "o"), ("test", "s")):
        ys = [r[f"{split}_psnr"] for r in t]
        if any(y is not None for y in ys):
            line = ax.plot([x for x, y in zip(xs, ys) if y is not None], [y for y in ys if y is not None],
                           marker=marker, label=f"{split} (mean)")[0]
            pts = [(r["value"], r[f"{split}_psnr"]) for r in rows if r["field"] == fld and r[f"{split}_psnr"] is not None]
            ax.scatter(*zip(*pts), s=10, alpha=0.4, color=line.get_color())
    ax.axvline(choice["value"], color="gray", ls="--", lw=1, label=f"chosen on {choice['by']}: {choice['value']:g}")
    if min(xs) > 0 and max(xs) / min(xs) >= 4:
        ax.set_xscale("log", base=2)
        ax.minorticks_off()
    ax.set_xticks(xs, [f"{x:g}" for x in xs])
    ax.set_xlabel(choice["key"])
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(f"{choice['key']}: underfitting (low) vs overfitting (high)")
    finish(plt, fig, ax, path)


def plot_bands(fields: list[dict], runs: list[dict], path: Path) -> None:
    """Per-band PSNR (scene band images) against the band's frequency, one line per field."""
    plt = pyplot()
    freq = {b["name"]: b.get("cycles_per_unit") for r in runs for b in r["bands"]}
    names = list(freq)
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    for f in fields:
        ys = [f["band_psnr"].get(n) for n in names]
        ax.plot(range(len(names)), [np.nan if y is None else y for y in ys], marker="o", ms=3, label=f["label"])
    ax.set_xticks(range(len(names)), [f"{n}\n({freq[n]:g}/unit)" if freq[n] else n for n in names], fontsize=7)
    ax.set_xlabel("band (cycles per unit)")
    ax.set_ylabel("test PSNR in the band (dB)")
    ax.set_title("Per-band PSNR")
    finish(plt, fig, ax, path)


def make_plots(results: dict, out: Path) -> dict[str, str]:
    """Write every plot into ``out``; returns {plot key: file name}."""
    plots = {}
    fields = results["fields"]
    if any(f["curve"]["psnr"] for f in fields):
        for key, x in (("psnr_vs_time", "elapsed_s"), ("psnr_vs_steps", "step")):
            plot_curves(fields, x, out / f"{key}.png")
            plots[key] = f"{key}.png"
    if results["band_edges"]:
        labels = results["band_labels"]
        all_db = [power_db(p) for f in fields for row in f["curve"]["band_power"] for p in row]
        if all_db:
            vmin, vmax = min(all_db), max(all_db)
            for f in fields:
                if f["curve"]["band_power"]:
                    name = f"spectrum_{f['field']}.png"
                    plot_spectrum_heatmap(f, labels, vmin, vmax, out / name)
                    plots[f"spectrum_{f['field']}"] = name
            plot_spectrum_final(fields, labels, out / "spectrum_final.png")
            plots["spectrum_final"] = "spectrum_final.png"
    for fld, choice in results["sweeps"].items():
        name = f"sweep_{choice['key'].replace('.', '_')}.png"
        plot_sweep(fld, choice, results["runs"], out / name)
        plots[f"sweep_{fld}"] = name
    if any(f["band_psnr"] for f in fields):
        plot_bands(fields, results["runs"], out / "bands.png")
        plots["bands"] = "bands.png"
    return plots
