"""``nerfspec report``: one self-contained HTML page of a run, several runs, or a comparison."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="one self-contained HTML page of a run, several runs, or a comparison",
                       description="Write an HTML page that opens from disk with no server: the run's facts and "
                       "resolved config, training curves from its TensorBoard logs (zoom, hover values), the "
                       "evaluated views (ground truth | render | error heatmap, sortable PSNR / SSIM table), the "
                       "orbit video and an interactive viewer of the extracted mesh beside the scene's ground "
                       "truth. Several runs are shown side by side; a nerfspec compare folder adds its summary, "
                       "PSNR curves, residual spectra and sweeps. Large files (video, mesh) go to a folder "
                       "<page>_assets beside the page: copy both to share the report.")
    p.add_argument("paths", nargs="+", metavar="RUN_OR_COMPARE_DIR",
                   help="a run directory, several of them, or one nerfspec compare output folder")
    p.add_argument("--out", help="the page's file, ending in .html (default: RUN_DIR/report.html, "
                   "COMPARE_DIR/report.html, or ./report.html for several runs)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    from nerfspec.report import write_html_report

    page = write_html_report(args.paths, args.out, progress=not args.quiet)
    print(f"report: {page} (open it in a browser; keep {page.stem}_assets/ beside it)")
    return 0
