"""The viewer in headless Chromium (Playwright driving the system browser, as the report's
browser tests do): the page loads, draws the training cameras' frustums, and a camera move
brings a new frame; a frame from a training camera's pose matches ``render_image`` of that
camera within 40 dB PSNR (the pose makes a round trip through the browser in float32).

Skipped when viser, Playwright or Chromium is missing (.ci/run installs all three).
"""

from __future__ import annotations

import io
import socket
import threading
import time

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from nerfspec.cameras import Cameras
from nerfspec.cli import main
from nerfspec.config import dump_toml
from nerfspec.data.dataset import load_split
from nerfspec.metrics import psnr
from nerfspec.render.background import eval_background
from nerfspec.render.renderer import render_image

from tests.conftest import tiny_config_dict
from tests.test_report_browser import CHROMIUM_ARGS, chromium_path

pytest.importorskip("viser", reason="viser is not installed (pip install -e '.[viewer]')")

WAIT_S = 120.0  # generous: the machine may be busy with other work


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, what: str, timeout: float = WAIT_S):
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
    exe = chromium_path()
    if exe is None:
        pytest.skip("no Chromium found (apt-get install chromium; .ci/run installs it)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, timeout=180_000)
        yield b
        b.close()


@pytest.fixture(scope="module")
def served(tiny_scene, tmp_path_factory):
    """A briefly trained run and its viewer, rendering in a background thread."""
    from nerfspec.models import load_run
    from nerfspec.viewer.schedule import Refinement
    from nerfspec.viewer.live import open_run_viewer

    root = tmp_path_factory.mktemp("viewer_run")
    cfg = tiny_config_dict(tiny_scene, root / "outputs", max_steps=40, threads=1)
    (root / "run.toml").write_text(dump_toml(cfg))
    assert main(["train", str(root / "run.toml")]) == 0
    run = load_run(root / "outputs" / cfg["name"], "cpu")
    viewer = open_run_viewer(run, "127.0.0.1", free_port(), Refinement(preview_width=48, max_width=64, settle_s=0.2))
    stop = threading.Event()
    thread = threading.Thread(target=viewer.serve, args=(stop,), daemon=True)
    thread.start()
    yield run, viewer
    stop.set()
    thread.join(timeout=30)
    viewer.close()


@pytest.fixture(scope="module")
def page(browser, served):
    _, viewer = served
    page = browser.new_page(viewport={"width": 640, "height": 640})
    page.set_default_timeout(180_000)
    page.goto(viewer.url)
    wait_for(lambda: any(v.frames for v in viewer.views.values()), "a first frame")
    yield page
    page.close()


def the_view(viewer):
    (view,) = viewer.views.values()
    return view


def settled(viewer):
    """The browser's frame is the refined one (drawn by render_image) for its current camera."""
    slot = the_view(viewer).slot
    with viewer.lock:
        return slot.shown is not None and slot.shown.version == slot.version and not slot.shown.preview


def screenshot(page) -> np.ndarray:
    return iio.imread(io.BytesIO(page.locator("canvas").first.screenshot()))[..., :3].astype(int)


def test_page_shows_the_frustums(page, served):
    _, viewer = served
    assert len(viewer.handles["frustums"]) == 20  # every training camera of the tiny scene
    wait_for(lambda: settled(viewer), "the refined frame")
    time.sleep(1.0)
    with_frustums = screenshot(page)
    for handle in viewer.handles["frustums"]:
        handle.visible = False
    time.sleep(1.5)
    without = screenshot(page)
    for handle in viewer.handles["frustums"]:
        handle.visible = True
    changed = np.abs(with_frustums - without).max(axis=-1) > 30
    assert changed.sum() > 100, f"hiding the frustums changed only {changed.sum()} pixels"


def test_camera_move_brings_a_new_frame(page, served):
    _, viewer = served
    wait_for(lambda: settled(viewer), "the refined frame")
    view = the_view(viewer)
    before_frames, before_pose = view.frames, view.frame.camera.c2w.clone()
    page.mouse.move(320, 320)
    page.mouse.down()
    page.mouse.move(420, 300, steps=8)
    page.mouse.up()
    wait_for(lambda: view.frames > before_frames and not torch.allclose(view.frame.camera.c2w, before_pose),
             "a frame from the moved camera")
    wait_for(lambda: settled(viewer), "the refined frame after the move")


def test_frame_from_a_training_pose_matches_render_image(page, served):
    from nerfspec.viewer.camera import c2w_to_browser, vertical_fov

    run, viewer = served
    cams = load_split(run.cfg.data, "train").cameras
    k = 3
    wxyz, position = c2w_to_browser(cams.c2w[k].double().numpy())
    view = the_view(viewer)
    with view.client.atomic():
        view.client.camera.fov = vertical_fov(cams.height, float(cams.fy[k]))
        view.client.camera.wxyz = wxyz
        view.client.camera.position = position
    target = cams.c2w[k, :3, 3]
    wait_for(lambda: settled(viewer) and torch.allclose(view.frame.camera.c2w[0, :3, 3], target, atol=1e-4),
             "the frame from training camera 3")
    frame = view.frame
    w, h = frame.camera.width, frame.camera.height
    fov = vertical_fov(cams.height, float(cams.fy[k]))
    reference = Cameras.pinhole(cams.c2w[k:k + 1], w, h, 0.5 * h / np.tan(0.5 * fov))
    bg = eval_background(run.cfg.data.eval_background, run.background)
    expected = render_image(run.field, run.estimator, reference, 0, bg)
    assert frame.image.shape == (h, w, 3)
    got = torch.from_numpy(frame.image).float() / 255.0
    assert psnr(got, expected["rgb"]) > 40.0
    assert float(expected["opacity"].mean()) > 0.01  # the view shows the object, not only background


def test_training_viewer_sends_frames_keeps_curves_and_pauses(browser, tiny_scene, tmp_path):
    from nerfspec.config import config_from_dict
    from nerfspec.train import train
    from nerfspec.viewer.live import TrainingHook, training_refinement
    from nerfspec.viewer.server import Viewer

    viewer = Viewer("127.0.0.1", free_port(), training_refinement(), training=True)
    hook = TrainingHook(viewer, budget=0.5, curve_every=5)
    page = browser.new_page(viewport={"width": 480, "height": 480})
    page.goto(viewer.url)
    wait_for(lambda: viewer.views, "the browser to connect")
    held = {}

    def on_step(trainer, stats):
        if trainer.step == 10:  # the pause button, and resume 1.5 s later
            viewer.panel.toggle_pause()
            threading.Timer(1.5, viewer.panel.toggle_pause).start()
            held["frames"] = the_view(viewer).frames
        t0 = time.perf_counter()
        hook(trainer, stats)
        if trainer.step == 10:
            held["seconds"] = time.perf_counter() - t0
            held["frames_after"] = the_view(viewer).frames

    cfg = config_from_dict(tiny_config_dict(tiny_scene, tmp_path / "outputs", max_steps=30, threads=1))
    try:
        result = train(cfg, quiet=True, on_step=on_step)
        width = the_view(viewer).frame.camera.width
    finally:
        page.close()
        viewer.close()
    assert result.step == 30
    assert hook.steps == [5, 10, 15, 20, 25, 30] and len(hook.psnrs) == 6
    assert np.allclose(viewer.panel.curves[1].data[1], hook.psnrs)
    assert hook.frames > 0 and width == 256
    assert held["seconds"] >= 1.4  # training waited while paused
    assert held["frames_after"] > held["frames"]  # and the browser got a frame meanwhile
