"""Preview frames against ``render_image`` on an analytic ball (no browser, no training): with
render_image's own sampling the preview is the same picture; with the default preview sampling
it stays within 30 dB PSNR while evaluating the field far less."""

from __future__ import annotations

import math
import time

import pytest
import torch

from nerfspec.cameras import Cameras, look_at
from nerfspec.config import SamplerConfig
from nerfspec.metrics import psnr
from nerfspec.render.grid import OccupancyGrid
from nerfspec.render.renderer import render_image
from nerfspec.viewer.frames import render_frame
from nerfspec.viewer.preview import PreviewSampling, render_preview

AABB = torch.tensor([-1.5, -1.5, -1.5, 1.5, 1.5, 1.5])


class Ball(torch.nn.Module):
    """An opaque ball of radius 0.8 with a soft edge (sigma up to 80), coloured by position and
    view direction; counts the points it evaluates."""

    def __init__(self):
        super().__init__()
        self.evaluated = 0

    def density(self, x):
        return 80.0 * torch.sigmoid((0.8 - x.norm(dim=-1)) / 0.02)

    def geometry(self, x):
        self.evaluated += x.shape[0]
        return self.density(x), x

    def colour(self, h, dirs):
        return torch.sigmoid(torch.stack([4 * torch.sin(5 * h[:, 0]), 3 * h[:, 1] * h[:, 2] + dirs[:, 0],
                                          2 * torch.cos(4 * h[:, 2]) - dirs[:, 1]], dim=1))

    def forward(self, x, dirs):
        sigma, h = self.geometry(x)
        return sigma, self.colour(h, dirs)


@pytest.fixture(scope="module")
def scene():
    field = Ball()
    grid = OccupancyGrid(AABB, SamplerConfig(grid_resolution=32, render_step_size=0.01, warmup_steps=1,
                                             carve=False))
    grid.update(0, field.density)
    eye = torch.tensor([2.2, -2.0, 1.2])
    camera = Cameras.pinhole(look_at(eye)[None], 40, 56, focal=0.5 * 56 / math.tan(math.radians(25)))
    return field, grid, camera, torch.tensor([1.0, 1.0, 1.0])


def test_with_render_images_own_sampling_the_preview_is_render_image(scene):
    field, grid, camera, bg = scene
    exact = render_image(field, grid, camera, 0, bg)
    same = PreviewSampling(step_scale=1.0, early_stop_eps=grid.cfg.early_stop_eps, min_weight=0.0, round_size=8)
    out = render_preview(field, grid, camera, 0, bg, same)
    assert float(exact["opacity"].mean()) > 0.2  # the ball fills a good part of the view
    for key in ("rgb", "opacity", "depth", "background"):
        assert out[key].shape == exact[key].shape
        torch.testing.assert_close(out[key], exact[key], atol=2e-5, rtol=0)


def test_default_preview_is_within_30_db_and_evaluates_far_fewer_points(scene):
    field, grid, camera, bg = scene
    field.evaluated = 0
    exact = render_image(field, grid, camera, 0, bg)
    full_cost = field.evaluated
    field.evaluated = 0
    out = render_preview(field, grid, camera, 0, bg, PreviewSampling())
    assert field.evaluated < 0.6 * full_cost
    assert float(psnr(out["rgb"], exact["rgb"])) > 30.0
    assert (out["opacity"] - exact["opacity"]).abs().mean() < 0.01


def test_colour_skipped_below_min_weight_goes_to_the_background(scene):
    """Skipping colour where w < min_weight moves a pixel by at most the skipped weights: with a
    large threshold, pixels go towards the background, never past the exact composite's range."""
    field, grid, camera, _ = scene
    black = torch.zeros(3)
    base = PreviewSampling(step_scale=1.0, early_stop_eps=grid.cfg.early_stop_eps, min_weight=0.0)
    full = render_preview(field, grid, camera, 0, black, base)
    skipped = render_preview(field, grid, camera, 0, black, PreviewSampling(
        step_scale=1.0, early_stop_eps=grid.cfg.early_stop_eps, min_weight=0.2))
    # on black, a skipped sample's share is black: every pixel is at most its full composite,
    # and the opacity (which counts every visited sample) is unchanged
    assert (skipped["rgb"] <= full["rgb"] + 1e-6).all()
    assert (skipped["rgb"] < full["rgb"] - 0.05).any()
    torch.testing.assert_close(skipped["opacity"], full["opacity"])
    # on white, the skipped share is white: every pixel is at least its full composite
    white = torch.ones(3)
    full = render_preview(field, grid, camera, 0, white, base)
    skipped = render_preview(field, grid, camera, 0, white, PreviewSampling(
        step_scale=1.0, early_stop_eps=grid.cfg.early_stop_eps, min_weight=0.2))
    assert (skipped["rgb"] >= full["rgb"] - 1e-6).all()
    assert (skipped["rgb"] > full["rgb"] + 0.05).any()


def test_render_frame_marks_previews_and_keeps_the_field_mode(scene):
    field, grid, camera, bg = scene
    field.train()
    preview = render_frame(field, grid, bg, camera, "colour", 1.0, 5.0, 4096, PreviewSampling())
    refined = render_frame(field, grid, bg, camera, "depth", 1.0, 5.0, 4096)
    assert preview.preview and not refined.preview
    assert preview.image.shape == refined.image.shape == (56, 40, 3)
    assert field.training


def test_traverse_with_a_longer_step_marches_the_same_cells(scene):
    _, grid, camera, _ = scene
    origins, dirs = camera[0].image_rays(0)
    fine = grid.traverse(origins, dirs)
    coarse = grid.traverse(origins, dirs, step=0.02)
    torch.testing.assert_close(coarse.t_ends - coarse.t_starts, torch.full((len(coarse),), 0.02))
    assert 0.4 * len(fine) < len(coarse) < 0.6 * len(fine)


class Recorder:
    """Stands in for a viser client: records the frames sent to it."""

    client_id = 1

    def __init__(self):
        self.sent = []
        self.scene = self

    def set_background_image(self, image, format, jpeg_quality):
        self.sent.append(image)


def test_viewer_delivers_the_frame_in_flight_then_renders_the_newest_pose(scene):
    pytest.importorskip("viser", reason="viser is not installed (pip install -e '.[viewer]')")
    from nerfspec.viewer.camera import c2w_to_browser
    from nerfspec.viewer.schedule import FrameSlot, Pose, Refinement
    from nerfspec.viewer.server import ClientView, Source, Viewer

    field, grid, camera, bg = scene
    viewer = Viewer("127.0.0.1", 0, Refinement(preview_width=32, max_width=48, settle_s=60.0))
    try:
        viewer.source = Source(field, grid, bg, 1.0, 5.0)
        client = Recorder()
        view = ClientView(client, FrameSlot(viewer.refinement))
        viewer.views[client.client_id] = view
        wxyz, position = c2w_to_browser(camera.c2w[0].double().numpy())
        poses = [Pose(tuple(wxyz), tuple(position + [0.1 * k, 0.0, 0.0]), 0.9, 0.75) for k in range(4)]
        view.slot.moved(poses[0], time.perf_counter())
        moves = iter(poses[1:])
        geometry = field.geometry

        def moving_geometry(x):  # the browser's camera moves on while the first frame renders
            pose = next(moves, None)
            if pose is not None:
                with viewer.lock:
                    view.slot.moved(pose, time.perf_counter())
            return geometry(x)

        field.geometry = moving_geometry
        assert viewer.render_pending() == 1
        field.geometry = geometry
        assert len(client.sent) == 1 and client.sent[0].shape == (43, 32, 3)  # delivered all the same
        assert (client.sent[0] < 200).any()  # the ball, not only the white background
        first = view.frame.camera.c2w[0, :3, 3]
        torch.testing.assert_close(first, torch.tensor(poses[0].position, dtype=torch.float32))
        assert viewer.render_pending() == 1  # next: the newest pose, none of those between
        torch.testing.assert_close(view.frame.camera.c2w[0, :3, 3], torch.tensor(poses[3].position,
                                                                                 dtype=torch.float32))
        assert view.frames == 2 and viewer.render_pending() == 0
    finally:
        viewer.close()
