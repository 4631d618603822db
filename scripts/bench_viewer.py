"""What the viewer costs, with one headless Chromium connected (Playwright, the system browser).
Frames are counted where the viewer sends them (``Viewer.render_for`` returned: the JPEG is on
the browser's websocket); viser's client opens that websocket in a Web Worker, where
Playwright's page does not see it.

``frames RUN``: the viewer of RUN (as ``nerfspec view`` serves it, its render loop in a thread)
while the browser's camera orbits without stopping (the mouse held down and moved): how many
new frames ``--width`` pixels wide are sent per second; then what a preview and a refined frame
of that size cost to render (``--repeats 0``: not timed). ``--screenshot`` saves the page first
(the README's picture).

``train CONFIG``: ``--steps`` of training without the viewer, then with it (one browser
connected, its camera orbiting all the while): steps/s over the second half of each run and the
slowdown, and the frames sent.

    python scripts/bench_viewer.py frames outputs/demo/run --seconds 20
    python scripts/bench_viewer.py train configs/demo.toml --steps 600 --set data.root=outputs/demo/scene
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--use-angle=swiftshader",
                 "--enable-unsafe-swiftshader"]


class FrameCounter:
    """The frames a viewer sent, where it sends them: (time the send returned, width, height).
    (viser's client talks over a websocket opened in a Web Worker, out of Playwright's sight.)"""

    def __init__(self, viewer):
        self.frames: list[tuple[float, int, int]] = []
        self.lock = threading.Lock()
        render_for = viewer.render_for

        def counted(view, request):
            frame = render_for(view, request)
            with self.lock:
                self.frames.append((time.perf_counter(), frame.camera.width, frame.camera.height))
            return frame

        viewer.render_for = counted

    def between(self, t0: float, t1: float, width: int | None = None) -> list[tuple[float, int, int]]:
        with self.lock:
            return [f for f in self.frames if t0 <= f[0] < t1 and (width is None or f[1] == width)]


@contextmanager
def browser_page(url: str, viewport: tuple[int, int]):
    from playwright.sync_api import sync_playwright

    exe = os.environ.get("NERFSPEC_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
        page.goto(url)
        yield page
        browser.close()


def orbit(page, seconds: float, viewport: tuple[int, int], stop: threading.Event | None = None) -> None:
    """Hold the mouse down on the canvas and sweep it left and right (6 px every 20 ms) for
    ``seconds``: a camera that keeps moving."""
    cx, cy = viewport[0] // 2, viewport[1] // 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    t0, x, dx = time.perf_counter(), cx, 6
    while time.perf_counter() - t0 < seconds and not (stop and stop.is_set()):
        x += dx
        if abs(x - cx) > 150:
            dx = -dx
        page.mouse.move(x, cy)
        page.wait_for_timeout(20)
    page.mouse.up()


def wait_for(condition, what: str, timeout: float = 300.0) -> None:
    t0 = time.perf_counter()
    while not condition():
        if time.perf_counter() - t0 > timeout:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.1)


def machine() -> str:
    from nerfspec.cpu import cpu_name

    return f"{cpu_name()}, {os.cpu_count()} cores"


def render_times(run_dir: str, width: int, height: int, repeats: int) -> tuple[float, float]:
    """Median seconds of a preview and of a refined (render_image) frame, width x height, seen
    from the first training camera."""
    from nerfspec.data.dataset import load_split
    from nerfspec.models import load_run
    from nerfspec.viewer.camera import browser_camera, c2w_to_browser, vertical_fov
    from nerfspec.viewer.frames import render_frame
    from nerfspec.viewer.live import source_for
    from nerfspec.render.background import eval_background

    run = load_run(run_dir, "cpu")
    cams = load_split(run.cfg.data, "train").cameras
    src = source_for(run.field, run.estimator, eval_background(run.cfg.data.eval_background, run.background),
                     cams, run.cfg.eval.chunk_rays)
    wxyz, position = c2w_to_browser(cams.c2w[0].double().numpy())
    camera = browser_camera(wxyz, position, vertical_fov(cams.height, float(cams.fy[0])), width / height, width)
    times = {}
    for name, preview in (("preview", src.preview), ("refined", None)):
        runs = []
        for _ in range(repeats + 1):  # the first one warms up
            runs.append(render_frame(src.field, src.estimator, src.background, camera, "colour", src.near, src.far,
                                     src.chunk_rays, preview).seconds)
        times[name] = statistics.median(runs[1:])
    return times["preview"], times["refined"]


def refinement(preview_width: int, max_width: int):
    try:
        from nerfspec.viewer.schedule import Refinement
    except ImportError:  # the viewer before previews
        from nerfspec.viewer.frames import Refinement
    return Refinement(preview_width=preview_width, max_width=max_width)


def bench_frames(args) -> None:
    from nerfspec.models import load_run
    from nerfspec.viewer.live import open_run_viewer

    viewport = tuple(int(v) for v in args.viewport.split("x"))
    viewer = open_run_viewer(load_run(args.run, "cpu"), "127.0.0.1", args.port, refinement(args.width, 2 * args.width))
    counter = FrameCounter(viewer)
    stop = threading.Event()
    server = threading.Thread(target=viewer.serve, args=(stop,), daemon=True)
    server.start()
    try:
        with browser_page(viewer.url, viewport) as page:
            wait_for(lambda: counter.between(0.0, float("inf"), 2 * args.width), "the first refined frame")
            page.wait_for_timeout(1000)
            if args.screenshot:
                page.screenshot(path=args.screenshot)
            t0 = time.perf_counter()
            orbit(page, args.seconds, viewport)
            t1 = time.perf_counter()
            previews = counter.between(t0, t1, args.width)
            every = counter.between(t0, t1)
    finally:
        stop.set()
        server.join()
        viewer.close()
    if not previews:
        raise SystemExit(f"no {args.width}-px-wide frame reached the browser in {t1 - t0:.1f} s")
    height = previews[0][2]
    gaps = [b[0] - a[0] for a, b in zip(previews, previews[1:])]
    print(f"{args.run}, {machine()}, viewport {viewport[0]}x{viewport[1]}: {len(previews)} new {args.width}x{height} "
          f"frames sent to the browser in {t1 - t0:.1f} s of continuous camera motion = {len(previews) / (t1 - t0):.2f} "
          f"frames/s ({len(every)} frames of any width; longest gap {max(gaps, default=0) * 1000:.0f} ms)", flush=True)
    if args.repeats > 0:
        preview_s, refined_s = render_times(args.run, args.width, height, args.repeats)
        print(f"render {preview_s * 1000:.0f} ms per preview, {refined_s * 1000:.0f} ms per refined frame "
              f"({args.width}x{height}, median of {args.repeats}, in this process)")


class StepClock:
    """``on_step`` that records when each step ended, then calls ``inner`` (if any)."""

    def __init__(self, inner=None):
        self.inner, self.times = inner, []

    def __call__(self, trainer, stats) -> None:
        self.times.append(time.perf_counter())
        if self.inner is not None:
            self.inner(trainer, stats)

    def steps_per_s(self) -> float:
        """Over the second half of the steps (start-up and the first frames left out)."""
        half = self.times[len(self.times) // 2:]
        return (len(half) - 1) / (half[-1] - half[0])


def bench_train(args) -> None:
    from nerfspec.config import load_config
    from nerfspec.train import train
    from nerfspec.viewer.live import TrainingHook, training_refinement
    from nerfspec.viewer.server import Viewer

    viewport = tuple(int(v) for v in args.viewport.split("x"))
    out = Path(tempfile.mkdtemp(prefix="bench_viewer_"))
    rates = {}
    for with_viewer in (False, True):
        cfg = load_config(args.config, [*args.set, f"output_dir={str(out)!r}", f"name='viewer_{int(with_viewer)}'",
                                        f"train.max_steps={args.steps}", "train.max_minutes=0",
                                        "train.checkpoint_every=100000", "train.val_every=0"])
        if not with_viewer:
            clock = StepClock()
            train(cfg, quiet=True, on_step=clock)
        else:
            viewer = Viewer("127.0.0.1", args.port, training_refinement(), training=True)
            hook = TrainingHook(viewer, args.budget)
            clock = StepClock(hook)
            try:
                with browser_page(viewer.url, viewport) as page:
                    wait_for(lambda: viewer.views, "the browser to connect")
                    done = threading.Event()
                    # Playwright's page belongs to this thread: training runs in another
                    worker = threading.Thread(target=lambda: (train(cfg, quiet=True, on_step=clock), done.set()))
                    worker.start()
                    while not done.is_set():
                        orbit(page, 5.0, viewport, done)
                    worker.join()
            finally:
                viewer.close()
        rates[with_viewer] = clock.steps_per_s()
        print(f"{'with' if with_viewer else 'without'} viewer: {rates[with_viewer]:.2f} steps/s over steps "
              f"{args.steps // 2}-{args.steps}" + (f", {hook.frames} frames sent to the browser" if with_viewer else ""), flush=True)
    shutil.rmtree(out, ignore_errors=True)
    print(f"{args.config}, {args.steps} steps, {machine()}: training with the viewer (one browser connected, "
          f"camera orbiting, budget {args.budget}) ran at {rates[True]:.2f} steps/s against {rates[False]:.2f} "
          f"without: {1 - rates[True] / rates[False]:.1%} slower")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    f = sub.add_parser("frames")
    f.add_argument("run")
    f.add_argument("--seconds", type=float, default=20.0)
    f.add_argument("--width", type=int, default=256)
    f.add_argument("--repeats", type=int, default=5, help="renders timed per kind of frame (0: none)")
    f.add_argument("--viewport", default="1280x800", help="the browser window, WxH pixels")
    f.add_argument("--port", type=int, default=8097)
    f.add_argument("--screenshot", help="save the page, refined frame shown, before the camera moves (PNG)")
    t = sub.add_parser("train")
    t.add_argument("config")
    t.add_argument("--steps", type=int, default=600)
    t.add_argument("--budget", type=float, default=0.12)
    t.add_argument("--set", action="append", default=[], help="config override, as nerfspec train's")
    t.add_argument("--viewport", default="1280x800")
    t.add_argument("--port", type=int, default=8098)
    args = p.parse_args(argv)
    (bench_frames if args.what == "frames" else bench_train)(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
