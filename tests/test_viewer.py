"""The viewer's pieces that need no browser: camera conventions, frame widths, the training
budget, scene geometry, the pictures and the panel text, and the error without viser."""

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
from nerfspec.viewer.frames import Refinement, display_image
from nerfspec.viewer.live import may_render, saved_psnr
from nerfspec.viewer.panel import info_markdown
from nerfspec.viewer.scene import box_segments, find_mesh, frustum_poses, occupied_points, thumbnail


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


def test_refinement_previews_while_moving_and_refines_when_still():
    r = Refinement(preview_width=64, max_width=256, settle_s=0.3)
    assert r.next_width(changed_at=10.0, now=10.1, shown_version=0, version=1, shown_width=256) == 64
    assert r.next_width(changed_at=10.0, now=10.1, shown_version=1, version=1, shown_width=64) is None
    assert r.next_width(changed_at=10.0, now=10.4, shown_version=1, version=1, shown_width=64) == 256
    assert r.next_width(changed_at=10.0, now=10.4, shown_version=1, version=1, shown_width=256) is None
    assert r.next_width(changed_at=10.0, now=11.0, shown_version=1, version=2, shown_width=256) == 256


def test_may_render_keeps_the_viewer_within_its_share():
    assert may_render(spent_s=1.0, wall_s=10.0, next_cost_s=0.1, budget=0.12)
    assert not may_render(spent_s=1.1, wall_s=10.0, next_cost_s=0.2, budget=0.12)
    # a loop that renders whenever allowed spends about budget of the wall time
    wall, spent, cost = 0.0, 0.0, 0.05
    for _ in range(10_000):
        wall += 0.01  # a training step
        if may_render(spent, wall, cost, 0.12):
            spent += cost
            wall += cost
    assert spent / wall == pytest.approx(0.12, abs=0.01)


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
