"""The report pages in headless Chromium (driven by Playwright for Python, the system browser, no
download): a briefly trained, evaluated, rendered and meshed tiny run, and a two-mapping comparison.

Skipped only when Playwright or a Chromium binary is missing (.ci/run installs Debian's chromium).
"""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from nerfspec.cli import main
from nerfspec.config import dump_toml

from tests.conftest import tiny_config_dict

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 # WebGL without a GPU: SwiftShader, which Chromium only uses when told it may
                 "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
CLEAR = np.array([0xEE, 0xF0, 0xF4])  # the mesh viewer's background colour
TIMEOUT_MS = 180_000  # per page action; generous, for a machine busy with other work


def chromium_path() -> str | None:
    for name in (os.environ.get("NERFSPEC_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and (path := shutil.which(name)):
            return path
    return None


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed "
                                   "(pip install -e '.[test]')")
    exe = chromium_path()
    if exe is None:
        pytest.skip("no Chromium found (apt-get install chromium; .ci/run installs it)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, timeout=TIMEOUT_MS)
        yield b
        b.close()


class Page:
    """A report opened from disk, with the console messages and uncaught errors it produced."""

    def __init__(self, browser, path: Path, width: int = 1280):
        self.page = browser.new_page(viewport={"width": width, "height": 900})
        self.page.set_default_timeout(TIMEOUT_MS)
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_function("() => window.nerfspecReport && window.nerfspecReport.ready && "
                                    "window.nerfspecReport.viewers.every(v => v.ready || v.error)")

    def eval(self, js: str, arg=None):
        return self.page.evaluate(js, arg)

    def load_all_media(self) -> dict:
        """Scroll every image and video into view (they load lazily), wait until each has
        decoded or failed; returns {"images": [(src, ok)], "videos": [(src, ok)]}."""
        for handle in self.page.query_selector_all("img, video"):
            handle.scroll_into_view_if_needed()
        self.page.wait_for_function(
            "() => [...document.images].every(i => i.complete) && "
            "[...document.querySelectorAll('video')].every(v => v.readyState >= 2 || v.error)")
        return self.eval("""() => ({
            images: [...document.images].map(i => [i.currentSrc.slice(0, 80), i.naturalWidth > 0]),
            videos: [...document.querySelectorAll('video')].map(v => [v.currentSrc, v.readyState >= 2 && v.videoWidth > 0])
        })""")


def fmt_count(x: float) -> str:
    """The page's compact count: 1.23M, 45.6k, or the integer with thousands separators."""
    if abs(x) >= 1e6:
        return f"{x / 1e6:.2f}M"
    if abs(x) >= 1e4:
        return f"{x / 1e3:.1f}k"
    return f"{round(x):,}"


def canvas_pixels(page, selector: str) -> np.ndarray:
    return iio.imread(io.BytesIO(page.page.locator(selector).screenshot()))[..., :3].astype(int)


# -- a trained, evaluated, rendered and meshed run --------------------------------------------

@pytest.fixture(scope="module")
def run_report(browser, tiny_scene, tmp_path_factory):
    """Trained only where the pages can be opened (``browser`` skips the module otherwise)."""
    root = tmp_path_factory.mktemp("report_run")
    cfg = tiny_config_dict(tiny_scene, root / "outputs", max_steps=80, threads=1)
    (root / "run.toml").write_text(dump_toml(cfg))
    run = root / "outputs" / cfg["name"]
    assert main(["train", str(root / "run.toml"), "--eval", "--report"]) == 0
    first_page = (run / "report.html").is_file()
    assert main(["render", str(run), "--frames", "8", "--outputs", "rgb,depth"]) == 0
    # a low threshold: 80 steps leave the density low, and the viewer needs a surface to draw
    assert main(["mesh", str(run), "--resolution", "48", "--threshold", "0.5", "--eval"]) == 0
    assert main(["report", str(run), "--quiet"]) == 0
    return {"run": run, "page": run / "report.html", "first_page": first_page}


@pytest.fixture(scope="module")
def run_page(browser, run_report):
    page = Page(browser, run_report["page"])
    yield page
    page.page.close()


def test_train_report_flag_writes_the_page(run_report):
    assert run_report["first_page"]
    assert sorted(p.suffix for p in (run_report["run"] / "report_assets").iterdir()) == ["", ".js", ".js", ".mp4"]


def test_run_page_has_no_console_errors(run_page):
    run_page.load_all_media()
    assert run_page.errors == []


def test_metrics_shown_equal_metrics_json(run_page, run_report):
    metrics = json.loads((run_report["run"] / "eval_test" / "metrics.json").read_text())
    card = run_page.eval("() => document.querySelector('[data-card=test-psnr] .num').textContent")
    assert card == f"{metrics['psnr']:.2f}"
    assert run_page.eval("() => document.querySelector('[data-card=test-ssim] .num').textContent") == f"{metrics['ssim']:.4f}"
    rows = run_page.eval("""() => [...document.querySelectorAll('table[data-table=views-test] tbody tr')].map(tr =>
        Object.fromEntries([...tr.cells].map(td => [td.dataset.key, [td.dataset.value, td.textContent]])))""")
    assert [int(r["view"][0]) for r in rows] == [v["view"] for v in metrics["views"]]
    for row, view in zip(rows, metrics["views"]):
        assert float(row["psnr0"][0]) == view["psnr"] and row["psnr0"][1] == f"{view['psnr']:.2f}"
        assert float(row["ssim0"][0]) == view["ssim"] and row["ssim0"][1] == f"{view['ssim']:.4f}"
    # facts come from run_info.json, which training wrote
    info = json.loads((run_report["run"] / "run_info.json").read_text())
    card = lambda key: run_page.eval(f"() => document.querySelector('[data-card={key}] .num').textContent")
    assert card("steps") == f"{info['step']:,}"
    assert card("samples-per-s") == fmt_count(info["samples_per_s"])
    assert card("parameters") == fmt_count(info["parameters"])
    # sorting by PSNR orders the rows by it
    run_page.page.click("table[data-table=views-test] th:nth-child(2)")
    shown = run_page.eval("() => [...document.querySelectorAll('table[data-table=views-test] td[data-key=psnr0]')]"
                          ".map(td => parseFloat(td.dataset.value))")
    assert shown == sorted(v["psnr"] for v in metrics["views"])


def test_every_image_and_the_video_load(run_page, run_report):
    media = run_page.load_all_media()
    n_views = len(json.loads((run_report["run"] / "eval_test" / "metrics.json").read_text())["views"])
    assert len(media["images"]) == 3 * n_views + 1  # ground truth, render, error per view; the colour bar
    assert all(ok for _, ok in media["images"]), [src for src, ok in media["images"] if not ok]
    assert [src.rsplit("/", 1)[-1] for src, _ in media["videos"]] == ["tiny_orbit.mp4"]
    assert all(ok for _, ok in media["videos"])


def test_view_images_reserve_their_size_before_loading(run_page, run_report):
    """Lazy images without a size start 0 px high: the page grows as they load and ones further
    down are skipped by a reader's (or a screenshot's) scroll. Each view image gives its size."""
    metrics = json.loads((run_report["run"] / "eval_test" / "metrics.json").read_text())
    sizes = run_page.eval("""() => [...document.querySelectorAll('.view figure img')]
        .map(i => [i.getAttribute('width'), i.getAttribute('height')])""")
    assert len(sizes) == 3 * len(metrics["views"])
    height, width = iio.imread(run_report["run"] / "eval_test" / "r_0.png").shape[:2]
    assert all(w == str(width) and h == str(height) for w, h in sizes), sizes


def test_mesh_viewer_draws_and_follows_a_drag(run_page):
    viewers = run_page.eval("() => window.nerfspecReport.viewers.map(v => [v.key, v.ready, v.error, v.empty])")
    assert len(viewers) == 2 and all(ready and err is None and not empty for _, ready, err, empty in viewers), viewers
    selector = f".viewer[data-mesh='{viewers[0][0]}'] canvas"
    run_page.page.locator(selector).scroll_into_view_if_needed()
    before = canvas_pixels(run_page, selector)
    drawn = (np.abs(before - CLEAR).max(axis=-1) > 8).mean()
    assert drawn > 0.01, f"only {drawn:.2%} of the canvas differs from the background"
    box = run_page.page.locator(selector).bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    run_page.page.mouse.move(cx, cy)
    run_page.page.mouse.down()
    run_page.page.mouse.move(cx + 120, cy + 40, steps=8)
    run_page.page.mouse.up()
    run_page.page.wait_for_timeout(300)
    after = canvas_pixels(run_page, selector)
    changed = (np.abs(after - before).max(axis=-1) > 8).mean()
    assert changed > 0.01, f"only {changed:.2%} of the canvas changed after the drag"
    # the ground-truth viewer follows (cameras move together by default)
    other = canvas_pixels(run_page, f".viewer[data-mesh='{viewers[1][0]}'] canvas")
    assert (np.abs(other - CLEAR).max(axis=-1) > 8).mean() > 0.01
    assert run_page.errors == []


def test_one_chart_per_logged_scalar(run_page, run_report):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_report["run"] / "tb"))
    acc.Reload()
    tags = sorted(acc.Tags()["scalars"])
    assert "train/loss" in tags and "train/psnr" in tags and "train/samples_per_s" in tags
    charts = run_page.eval("() => window.nerfspecReport.charts.map(c => [c.tag, c.series, c.plot ? c.plot.series.length : 0])")
    assert sorted(tag for tag, _, _ in charts) == tags
    assert all(series == [tag] and n == 2 for tag, series, n in charts)  # uPlot counts the x series too
    assert run_page.eval("() => document.querySelectorAll('#curves .uplot').length") == len(tags)


def test_narrow_window_does_not_scroll_sideways(browser, run_report):
    page = Page(browser, run_report["page"], width=390)
    try:
        overflow = page.eval("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1
        assert page.errors == []
    finally:
        page.page.close()


# -- a comparison ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def compare_report(compared):
    return compared["out"]


def test_comparison_page(browser, compare_report):
    results = json.loads((compare_report / "results.json").read_text())
    page = Page(browser, compare_report / "report.html")
    try:
        media = page.load_all_media()
        assert all(ok for _, ok in media["images"]) and media["images"]
        assert page.errors == []
        shown = page.eval("""() => [...document.querySelectorAll('table[data-table=fields] tbody tr')].map(tr =>
            [tr.cells[0].textContent, parseFloat(tr.querySelector('[data-key=test_psnr]').dataset.value)])""")
        assert shown == [[f["label"], f["test_psnr"]] for f in results["fields"]]
        charts = dict(page.eval("() => window.nerfspecReport.charts.map(c => [c.tag, c.series])"))
        labels = [f["label"] for f in results["fields"]]
        assert charts["compare/psnr_vs_time"] == labels and charts["compare/psnr_vs_steps"] == labels
        assert charts["compare/sweep_gauss"] == ["val (mean)", "test (mean)"]
        assert charts["train/loss"] == labels  # one series per mapping shown
        heat = page.eval("() => [...document.querySelectorAll('table[data-heatmap]')].map(t => t.dataset.heatmap)")
        assert heat == ["none", "gauss"]
    finally:
        page.page.close()
