"""Compare input mappings under one budget: plan the runs, train them (resumably), evaluate
them, record PSNR curves and residual spectra while they train, and write the report.

Layout of ``OUT/``::

    runs/<field>[_<param><value>]_s<seed>/   an ordinary run directory (``nerfspec eval`` works
                                             on it) plus compare.json: the curve points (step,
                                             training seconds, PSNR and residual band power of
                                             a test subset), parameter count, throughput
    jobs/<run>.json                          what a worker process runs (several GPUs only)
    report.md, results.csv, results.json, *.png
    report.html, report_assets/              the comparison as one page (nerfspec report)

A run is finished when its newest checkpoint is at the budget and its eval metrics.json
files match that checkpoint; a rerun skips it, resumes an interrupted run from its newest
checkpoint, and only evaluates one whose training finished.

Modules: plan.py (the spec and its runs), status.py (where a run stands on disk), curves.py
(curve points while training), runner.py (running one run and the whole comparison),
parallel.py (one worker process per GPU), results.py (results.json / .csv, report.md) and
plots.py (the PNGs).
"""

from nerfspec.compare.curves import CurveRecorder, curve_index, curve_views, load_state, reindex_curve, score_views
from nerfspec.compare.parallel import cuda_devices, run_parallel, write_job
from nerfspec.compare.plan import (
    NO_STEP_LIMIT,
    CompareSpec,
    PlannedRun,
    Settings,
    Sweep,
    parse_seeds,
    parse_sweep,
    plan_runs,
    run_name,
    settings_of,
)
from nerfspec.compare.results import (
    build_results,
    choose_sweeps,
    mark_selected,
    markdown,
    mean_curve,
    results_csv,
    summarise_fields,
    write_report,
)
from nerfspec.compare.runner import collect_run, compare, execute_run, finalize_run, worker_main
from nerfspec.compare.status import config_differences, eval_done, run_status

__all__ = [
    "CompareSpec", "CurveRecorder", "NO_STEP_LIMIT", "PlannedRun", "Settings", "Sweep", "build_results",
    "choose_sweeps", "collect_run", "compare", "config_differences", "cuda_devices", "curve_index",
    "curve_views", "eval_done", "execute_run", "finalize_run", "load_state", "mark_selected", "markdown",
    "mean_curve", "parse_seeds", "parse_sweep", "plan_runs", "reindex_curve", "results_csv", "run_name",
    "run_parallel", "run_status", "score_views", "settings_of", "summarise_fields", "worker_main",
    "write_job", "write_report",
]
