"""Reports: a comparison's tables and plots (results.py: results.json, results.csv, report.md,
PNGs) and the HTML page of a run, several runs or a comparison (page.py, ``nerfspec report``).

Layout: events.py (TensorBoard scalars), run_info.py / run_data.py (one run's facts, views,
media), compare_data.py (a comparison's results), images.py (ground truth, error heatmaps),
assets.py (inlined or side-folder files), html.py + static/ (the page), vendor/ (uPlot, three.js).
"""

from nerfspec.report.results import (
    CSV_COLUMNS,
    band_labels,
    build_results,
    choose_sweeps,
    field_label,
    make_plots,
    mark_selected,
    markdown,
    mean_curve,
    plot_bands,
    plot_curves,
    plot_spectrum_final,
    plot_spectrum_heatmap,
    plot_sweep,
    power_db,
    results_csv,
    summarise_fields,
    write_report,
)

__all__ = [
    "CSV_COLUMNS", "band_labels", "build_results", "choose_sweeps", "field_label", "make_plots",
    "mark_selected", "markdown", "mean_curve", "plot_bands", "plot_curves", "plot_spectrum_final",
    "plot_spectrum_heatmap", "plot_sweep", "power_db", "results_csv", "summarise_fields",
    "write_report", "write_html_report",
]


def write_html_report(paths, out=None, progress=True):
    """The HTML page of one run, several runs or a compare folder (see ``nerfspec.report.page``)."""
    from nerfspec.report.page import write_html_report as write

    return write(paths, out, progress)
