"""The HTML page of a run, several runs or a comparison (page.py, ``nerfspec report``); a
comparison's own tables and plots are nerfspec/compare/'s.

Layout: events.py (TensorBoard scalars), run_info.py / run_data.py (one run's facts, views,
media), compare_data.py (a comparison's results), images.py (ground truth, error heatmaps),
assets.py (inlined or side-folder files), html.py + static/ (the page), vendor/ (uPlot, three.js).
"""

__all__ = ["write_html_report"]


def write_html_report(paths, out=None, progress=True):
    """The HTML page of one run, several runs or a compare folder (see ``nerfspec.report.page``)."""
    from nerfspec.report.page import write_html_report as write

    return write(paths, out, progress)
