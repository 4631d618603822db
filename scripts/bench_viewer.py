"""What the viewer costs, with one headless Chromium connected (Playwright, the system browser).

``frames RUN``: ``nerfspec view``'s viewer of a trained run while the browser's camera keeps
moving (mouse drags): how many new frames, ``--width`` pixels wide, reach the browser per second
and what one costs to render.

``train CONFIG``: the same ``--steps`` of training without the viewer and with it (one browser
connected, its camera moving now and then); prints both wall times and the slowdown.

    python scripts/bench_viewer.py frames outputs/lego_hashgrid --seconds 20
    python scripts/bench_viewer.py train configs/lego_hashgrid.toml --steps 200
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

from nerfspec.config import load_config
from nerfspec.models import load_run
from nerfspec.train import train
from nerfspec.cpu import cpu_name
from nerfspec.viewer.frames import Refinement
from nerfspec.viewer.live import TrainingHook, open_run_viewer, training_refinement
from nerfspec.viewer.server import Viewer

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--use-angle=swiftshader",
                 "--enable-unsafe-swiftshader"]


@contextmanager
def browser_page(url_of):
    from playwright.sync_api import sync_playwright

    exe = os.environ.get("NERFSPEC_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 800, "height": 600})
        page.goto(url_of())
        yield page
        browser.close()


def drag(page, k: int) -> None:
    """A short drag on the canvas: orbit the camera a little (direction alternating)."""
    sign = 1 if (k // 20) % 2 == 0 else -1
    page.mouse.move(400, 300)
    page.mouse.down()
    page.mouse.move(400 + sign * 12, 300, steps=2)
    page.mouse.up()


def bench_frames(args) -> None:
    run = load_run(args.run, "cpu")
    viewer = open_run_viewer(run, "127.0.0.1", args.port, Refinement(args.width, args.width * 2))
    stop = threading.Event()
    serving = threading.Thread(target=viewer.serve, args=(stop,), daemon=True)
    serving.start()
    with browser_page(lambda: viewer.url) as page:
        while not any(v.frames for v in viewer.views.values()):
            time.sleep(0.1)
        (view,) = viewer.views.values()
        times, start_frames, t0, k = [], None, time.perf_counter(), 0
        seen = None
        while time.perf_counter() - t0 < args.seconds:
            drag(page, k)
            k += 1
            frame = view.frame
            if frame is not seen and frame.camera.width == args.width:
                times.append(frame.seconds)
                seen = frame
            if start_frames is None:
                start_frames = view.frames
        elapsed = time.perf_counter() - t0
    stop.set()
    serving.join()
    viewer.close()
    print(f"{run.cfg.field.encoding} run {args.run} (step {run.step}), {cpu_name()}, {os.cpu_count()} cores: "
          f"{len(times)} new {args.width}-px-wide frames in {elapsed:.1f} s of camera motion = "
          f"{len(times) / elapsed:.2f} frames/s; render {statistics.median(times) * 1000:.0f} ms median per frame "
          f"({times and frame.camera.height} px high)")


def bench_train(args) -> None:
    out = Path(tempfile.mkdtemp(prefix="bench_viewer_"))
    walls = {}
    for with_viewer in (False, True):
        cfg = load_config(args.config, [f"output_dir={str(out)!r}", f"name='viewer_{int(with_viewer)}'",
                                        f"train.max_steps={args.steps}", "train.max_minutes=0",
                                        "train.checkpoint_every=100000"])
        hook, viewer = None, None
        if with_viewer:
            viewer = Viewer("127.0.0.1", args.port, training_refinement(), training=True)
            hook = TrainingHook(viewer, args.budget)
        t0 = time.perf_counter()
        if viewer is None:
            result = train(cfg, quiet=True)
        else:
            with browser_page(lambda: viewer.url) as page:
                done = threading.Event()
                box = {}

                def run_training():
                    box["result"] = train(cfg, quiet=True, on_step=hook)
                    done.set()

                # the training must run in this (main) thread's stead: Playwright's page is
                # driven from here, so training goes to a thread and this one moves the camera
                worker = threading.Thread(target=run_training)
                worker.start()
                k = 0
                while not done.wait(1.0):
                    drag(page, k)
                    k += 1
                worker.join()
                result = box["result"]
            viewer.close()
        walls[with_viewer] = time.perf_counter() - t0
        extra = f", {hook.frames} frames sent" if hook is not None else ""
        print(f"{'with' if with_viewer else 'without'} viewer: {result.step} steps in {walls[with_viewer]:.1f} s "
              f"wall ({result.elapsed_s:.1f} s in steps){extra}", flush=True)
    shutil.rmtree(out, ignore_errors=True)
    print(f"{args.config}, {args.steps} steps, {cpu_name()}, {os.cpu_count()} cores: training with the viewer "
          f"(one browser connected, budget {args.budget}) took {walls[True] / walls[False] - 1:+.1%} wall time")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    f = sub.add_parser("frames")
    f.add_argument("run")
    f.add_argument("--seconds", type=float, default=20.0)
    f.add_argument("--width", type=int, default=256)
    f.add_argument("--port", type=int, default=8097)
    t = sub.add_parser("train")
    t.add_argument("config")
    t.add_argument("--steps", type=int, default=200)
    t.add_argument("--budget", type=float, default=0.12)
    t.add_argument("--port", type=int, default=8098)
    args = p.parse_args(argv)
    (bench_frames if args.what == "frames" else bench_train)(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
