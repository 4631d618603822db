"""The viewer's pieces that need no browser: camera conventions, which frame each browser gets
next (the newest pose wins, the frame in flight is delivered), the training budget, scene
geometry, the pictures and the panel text, and the error without viser."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import torch

from nerfspec.cameras import Cameras
from nerfspec.errors import NerfspecError
from nerfspec.viewer.camera import (
    browser_camera,
    browser_to_c2w,
    c2w_to_browser,
    frame_size,
    matrix_to_quaternion,
    quaternion_to_matrix,
    vertical_fov,
)
from nerfspec.viewer.frames import display_image
from nerfspec.viewer.live import saved_psnr
from nerfspec.viewer.panel import info_markdown
from nerfspec.viewer.scene import box_segments, find_mesh, frustum_poses, occupied_points, thumbnail
from nerfspec.viewer.schedule import FrameSlot, Pose, Refinement, TimeBudget


def random_quaternions(n: int, seed: int = 0) -> np.ndarray:
    q = np.random.default_rng(seed).normal(size=(n, 4))
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def test_quaternion_matrix_round_trip():
    for q in random_quaternions(50):
        rot = quaternion_to_matrix(q)
        np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(rot) == pytest.approx(1.0)
        back = matrix_to_quaternion(rot)
        np.testing.assert_allclose(back, q if q[0] >= 0 else -q, atol=1e-10)


def test_quarter_turn_about_z_maps_x_to_y():
    half = math.sqrt(0.5)
    np.testing.assert_allclose(quaternion_to_matrix([half, 0, 0, half]) @ [1, 0, 0], [0, 1, 0], atol=1e-12)


def test_browser_camera_looks_down_its_z_with_y_down():
    """Identity quaternion: the browser camera looks along world +z, image rows go down -> +y."""
    cam = browser_camera([1, 0, 0, 0], [0.5, -1.0, 2.0], fov_y=math.radians(60), aspect=1.0, width=3)
    origins, dirs = cam.to("cpu")[0].image_rays(0)
    dirs = dirs.reshape(3, 3, 3)
    np.testing.assert_allclose(dirs[1, 1].numpy(), [0, 0, 1], atol=1e-6)
    assert dirs[0, 1, 1] < 0 < dirs[2, 1, 1]  # top row looks up (-y), bottom row down (+y)
    assert dirs[1, 0, 0] < 0 < dirs[1, 2, 0]  # left column -x, right column +x
    np.testing.assert_allclose(origins[0].numpy(), [0.5, -1.0, 2.0])


def test_browser_camera_focal_matches_the_vertical_fov():
    cam = browser_camera([1, 0, 0, 0], [0, 0, 0], fov_y=math.radians(50), aspect=2.0, width=200)
    assert (cam.width, cam.height) == (200, 100)
    assert vertical_fov(cam.height, float(cam.fy[0])) == pytest.approx(math.radians(50))


def test_pose_round_trip_through_the_browser_frame():
    for q in random_quaternions(20, seed=1):
        c2w = browser_to_c2w(q, [1.0, 2.0, 3.0])
        wxyz, position = c2w_to_browser(c2w)
        np.testing.assert_allclose(wxyz, q if q[0] >= 0 else -q, atol=1e-10)
        np.testing.assert_allclose(position, [1, 2, 3])


def test_blender_camera_keeps_its_view_direction_in_the_browser():
    """A Blender camera at +4 z looking down -z: the browser camera's +z axis points down too."""
    c2w = np.eye(4)
    c2w[2, 3] = 4.0
    wxyz, _ = c2w_to_browser(c2w)
    np.testing.assert_allclose(quaternion_to_matrix(wxyz) @ [0, 0, 1], [0, 0, -1], atol=1e-12)
    np.testing.assert_allclose(quaternion_to_matrix(wxyz) @ [0, 1, 0], [0, -1, 0], atol=1e-12)


def test_frame_size_keeps_the_aspect_ratio():
    assert frame_size(16 / 9, 256) == (256, 144)
    assert frame_size(1000.0, 256) == (256, 1)


def pose(x: float) -> Pose:
    return Pose((1.0, 0.0, 0.0, 0.0), (x, 0.0, 4.0), 0.8, 1.5)


def test_slot_previews_while_moving_and_refines_when_still():
    slot = FrameSlot(Refinement(preview_width=64, max_width=256, settle_s=0.3))
    assert slot.take(0.0) is None  # no pose reported yet
    slot.moved(pose(0.0), now=10.0)
    first = slot.take(10.1)
    assert (first.width, first.preview, first.pose) == (64, True, pose(0.0))
    slot.delivered(first)
    assert slot.take(10.2) is None  # up to date, camera not still long enough to refine
    refined = slot.take(10.4)
    assert (refined.width, refined.preview, refined.pose) == (256, False, pose(0.0))
    slot.delivered(refined)
    assert slot.take(11.0) is None  # refined: nothing more to draw
    slot.invalidate()  # e.g. the display mode changed under a still camera: refined at once
    again = slot.take(11.1)
    assert (again.width, again.preview) == (256, False)


def test_a_pose_arriving_during_a_render_waits_and_the_newest_wins():
    slot = FrameSlot(Refinement(preview_width=64, max_width=256, settle_s=0.3))
    slot.moved(pose(0.0), now=0.0)
    in_flight = slot.take(0.01)
    for k in range(1, 4):  # three moves while the frame renders
        slot.moved(pose(float(k)), now=0.01 * k)
        assert slot.take(0.01 * k) is None  # one frame in flight at a time ...
    assert slot.in_flight is in_flight  # ... and it is not cancelled
    slot.delivered(in_flight)
    assert slot.shown is in_flight and slot.delivered_count == 1
    following = slot.take(0.05)
    assert following.pose == pose(3.0) and following.preview  # the newest pose, not the next one
    assert following.version == slot.version
    with pytest.raises(ValueError):
        slot.delivered(in_flight)


def test_a_camera_that_never_stops_still_gets_a_frame_per_render():
    """Camera updates every 10 ms, renders of 100 ms: over 2 s every render is delivered (about
    20 frames), each from the newest pose when it started."""
    slot = FrameSlot(Refinement(preview_width=64, max_width=256, settle_s=0.3))
    now, render_s, delivered, request, done_at = 0.0, 0.1, [], None, 0.0
    while now < 2.0:
        slot.moved(pose(now), now)
        if request is not None and now >= done_at:
            slot.delivered(request)
            delivered.append(request)
            request = None
        if request is None:
            request = slot.take(now)
            assert request is not None and request.pose == pose(now)
            done_at = now + render_s
        now = round(now + 0.01, 6)
    assert len(delivered) >= 19
    assert all(r.preview and r.width == 64 for r in delivered)


def test_training_frames_are_previews_under_a_still_camera():
    slot = FrameSlot(Refinement(preview_width=256, max_width=256, refine=False))
    slot.moved(pose(0.0), now=0.0)
    first = slot.take(5.0)
    assert first.preview and first.width == 256
    slot.delivered(first)
    assert slot.take(6.0) is None
    slot.invalidate()  # the field trained on
    assert slot.take(6.0).preview


def run_hook(budget: TimeBudget, wall: float, end: float, step_s: float, frame_s: float, wants_frames: bool):
    """Simulated training: steps of ``step_s``; after each, a frame of ``frame_s`` when the
    budget allows and a browser wants one. Returns (wall at the end, seconds spent on frames)."""
    spent = 0.0
    while wall < end:
        wall += step_s
        if wants_frames and budget.may_spend(wall):
            wall += frame_s
            spent += frame_s
            budget.charge(frame_s, wall)
    return wall, spent


def test_time_budget_keeps_the_viewer_within_its_share():
    budget = TimeBudget(0.12, now=0.0)
    wall, spent = run_hook(budget, 0.0, 100.0, step_s=0.01, frame_s=0.05, wants_frames=True)
    assert spent / wall == pytest.approx(0.12, abs=0.005)
    assert spent / (wall - spent) <= 0.12 / 0.88 + 0.005  # training slows by at most 13.6%


def test_time_without_a_browser_is_not_saved_up_for_a_burst():
    """100 s of training with no browser, then one connects: over the next 10 s the frames take
    their share of those 10 s (plus one frame), not the 12 s saved up."""
    budget = TimeBudget(0.12, now=0.0)
    wall, _ = run_hook(budget, 0.0, 100.0, step_s=0.01, frame_s=0.05, wants_frames=False)
    _, spent = run_hook(budget, wall, wall + 10.0, step_s=0.01, frame_s=0.05, wants_frames=True)
    assert spent <= 0.12 * 10.0 + 0.05


def test_box_segments_are_the_twelve_edges():
    aabb = [-1.0, -2.0, -3.0, 1.0, 2.0, 3.0]
    seg = box_segments(aabb)
    assert seg.shape == (12, 2, 3)
    delta = np.abs(seg[:, 1] - seg[:, 0])
    assert ((delta > 0).sum(axis=1) == 1).all()  # each edge runs along one axis
    assert sorted(delta.max(axis=1).tolist()) == [2.0] * 4 + [4.0] * 4 + [6.0] * 4
    corners = {tuple(p) for p in seg.reshape(-1, 3).tolist()}
    assert len(corners) == 8


def test_occupied_points_are_the_occupied_cell_centres():
    aabb = torch.tensor([-1.0, -1.0, -1.0, 1.0, 1.0, 1.0])
    binary = torch.zeros(4 ** 3, dtype=torch.bool)
    binary[0] = binary[4 ** 3 - 1] = True
    pts = occupied_points(binary, aabb, 4)
    np.testing.assert_allclose(sorted(pts.tolist()), [[-0.75] * 3, [0.75] * 3])
    binary[:] = True
    assert len(occupied_points(binary, aabb, 4, limit=10)) <= 10
    cascades = torch.zeros(2 * 4 ** 3, dtype=torch.bool)
    cascades[4 ** 3] = True  # the first cell of the second level, a box twice the first
    pts = occupied_points(cascades, torch.stack([aabb, 2 * aabb]), 4)
    np.testing.assert_allclose(pts.tolist(), [[-1.5] * 3])


def test_thumbnail_composites_on_white_and_shrinks():
    img = torch.zeros(64, 64, 4, dtype=torch.uint8)
    img[:32, :, :3] = 255
    img[:32, :, 3] = 255  # top half opaque white over a transparent bottom
    img[:, :, 0] = 0
    small = thumbnail(img, width=16)
    assert small.shape == (16, 16, 3) and small.dtype == np.uint8
    assert (small[:8, :, 0] == 0).all() and (small[:8, :, 1] == 255).all()
    assert (small[8:] == 255).all()  # transparent -> white


def test_frustum_poses_carry_the_intrinsics():
    c2w = torch.eye(4)[None].repeat(2, 1, 1)
    cams = Cameras.pinhole(c2w, 40, 20, focal=10.0)
    poses = frustum_poses(cams)
    assert len(poses) == 2 and poses[0]["aspect"] == 2.0
    assert poses[0]["fov"] == pytest.approx(2 * math.atan(10 / 10.0))


def test_display_image_modes():
    out = {"rgb": torch.full((2, 3, 3), 0.5), "opacity": torch.tensor([[0.0, 0.5, 1.0]] * 2),
           "depth": torch.tensor([[0.0, 1.0, 3.0]] * 2), "background": torch.ones(2, 3, 3)}
    colour = display_image(out, "colour", 1.0, 5.0)
    assert colour.shape == (2, 3, 3) and colour.dtype == np.uint8 and (colour == 128).all()
    grey = display_image(out, "opacity", 1.0, 5.0)
    assert grey[0, :, 0].tolist() == [0, 128, 255]
    depth = display_image(out, "depth", 1.0, 5.0)
    assert (depth[0, 0] == 255).all()  # empty pixel: the white background
    assert not (depth[0, 2] == depth[0, 1]).all()  # depth 2 and 3 differ in colour
    with pytest.raises(ValueError):
        display_image(out, "normals", 1.0, 5.0)


def test_info_markdown_names_mapping_step_and_psnr():
    text = info_markdown({"encoding": "hashgrid", "step": 1200, "psnr": 27.346, "psnr_of": "test",
                          "frame": (256, 256, 0.21)})
    assert "hashgrid" in text and "1,200" in text and "27.35 dB (test)" in text and "256x256 in 210 ms" in text
    assert "not measured" in info_markdown({"encoding": "pe", "step": 0, "psnr": None})


def test_saved_psnr_and_mesh_of_a_run(tmp_path):
    assert saved_psnr(tmp_path) is None and find_mesh(tmp_path) is None
    (tmp_path / "eval_test").mkdir()
    (tmp_path / "eval_test" / "metrics.json").write_text('{"psnr": 25.5}')
    (tmp_path / "mesh").mkdir()
    (tmp_path / "mesh" / "mesh.ply").write_text("ply")
    assert saved_psnr(tmp_path) == 25.5 and find_mesh(tmp_path) == tmp_path / "mesh" / "mesh.ply"


def test_missing_viser_is_one_line_error(monkeypatch, tmp_path, capsys):
    from nerfspec.cli import main
    from nerfspec.viewer.server import require_viser

    monkeypatch.setitem(sys.modules, "viser", None)  # import viser now raises ImportError
    with pytest.raises(NerfspecError, match=r"pip install 'nerfspec\[viewer\]'"):
        require_viser()
    assert main(["view", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the viewer needs viser") and err.count("\n") == 1
    assert main(["train", "--viewer", "--max-steps", "1"]) == 2
    assert "nerfspec[viewer]" in capsys.readouterr().err
