"""nerfspec.export.video: colour map, camera-path helpers, option parsers, and MP4/GIF output of a
briefly trained unit sphere."""

from __future__ import annotations

import json
import math

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from nerfspec.cameras import orbit_path
from nerfspec.cli import main
from nerfspec.errors import NerfspecError
from nerfspec.export import video


# ----------------------------------------------------------------------------- pure helpers


def test_turbo_endpoints_and_range():
    x = torch.linspace(0, 1, 101)
    rgb = video.turbo(x)
    assert rgb.shape == (101, 3) and float(rgb.min()) >= 0 and float(rgb.max()) <= 1
    assert rgb[10].argmax() == 2 and rgb[50].argmax() == 1 and rgb[90].argmax() == 0  # blue, green, red
    assert torch.allclose(rgb[10], torch.tensor([0.28, 0.35, 0.86]), atol=0.03)  # the published map at 0.1
    assert torch.equal(video.turbo(torch.tensor([-3.0, 7.0])), video.turbo(torch.tensor([0.0, 1.0])))


def test_depth_panel_blends_onto_background_by_opacity():
    depth = torch.tensor([[2.0, 0.0]])
    opacity = torch.tensor([[1.0, 0.0]])
    bg = torch.tensor([1.0, 1.0, 1.0])
    out = video.depth_panel(depth, opacity, near=2.0, far=6.0, background=bg)
    assert torch.allclose(out[0, 0], video.turbo(torch.tensor(0.0)))
    assert torch.allclose(out[0, 1], bg)
    half = video.depth_panel(torch.tensor([[2.0]]), torch.tensor([[0.5]]), 2.0, 6.0, bg)  # mean depth 4
    assert torch.allclose(half[0, 0], 0.5 * video.turbo(torch.tensor(0.5)) + 0.5 * bg)
    assert video.grey_panel(torch.tensor([[0.25]])).tolist() == [[[0.25, 0.25, 0.25]]]


def test_orbit_defaults_recover_radius_and_elevation():
    poses = orbit_path(12, 4.0, 30.0)
    radius, elevation = video.orbit_defaults(poses)
    assert radius == pytest.approx(4.0, abs=1e-5) and elevation == pytest.approx(30.0, abs=1e-4)


def test_orbit_about_a_centre_of_interest():
    centre = torch.tensor([0.5, -1.0, 2.0])
    poses = video.camera_path("orbit", 8, 3.0, 45.0, centre=centre)
    rel = poses[:, :3, 3] - centre
    torch.testing.assert_close(rel.norm(dim=-1), torch.full((8,), 3.0))
    torch.testing.assert_close(-poses[:, :3, 2], -rel / 3.0, atol=1e-5, rtol=0)  # looking at the centre
    radius, elevation = video.orbit_defaults(poses, centre)
    assert radius == pytest.approx(3.0, abs=1e-5) and elevation == pytest.approx(45.0, abs=1e-4)


def test_interpolate_path_goes_through_the_training_cameras():
    train = orbit_path(10, 4.0, 30.0, turns=0.5)
    path = video.camera_path("interpolate", 25, 0.0, 0.0, train_poses=train, smoothing=0.0)
    assert path.shape == (25, 4, 4)
    torch.testing.assert_close(path[[0, -1]], train[[0, -1]], atol=1e-5, rtol=0)
    with pytest.raises(NerfspecError, match="needs the scene's training poses"):
        video.camera_path("interpolate", 5, 4.0, 0.0)


def test_box_near_far():
    aabb = torch.tensor([-1.0, -1, -1, 1, 1, 1])
    near, far = video.box_near_far(torch.tensor([[4.0, 0, 0], [0, 5.0, 0]]), aabb)
    assert near == pytest.approx(4 - math.sqrt(3)) and far == pytest.approx(5 + math.sqrt(3))
    assert video.box_near_far(torch.zeros(1, 3), aabb)[0] == 0.0


def test_camera_path_kinds():
    assert video.camera_path("orbit", 7, 4.0, 20.0).shape == (7, 4, 4)
    spiral = video.camera_path("spiral", 9, 4.0, 20.0)
    assert spiral.shape == (9, 4, 4) and torch.allclose(spiral[:, :3, 3].norm(dim=-1), torch.tensor(4.0))
    test = torch.eye(4).repeat(3, 1, 1)
    assert torch.equal(video.camera_path("test", 99, 4.0, 0.0, test), test)
    with pytest.raises(NerfspecError):
        video.camera_path("zigzag", 5, 4.0, 0.0)
    with pytest.raises(NerfspecError):
        video.camera_path("orbit", 0, 4.0, 0.0)


def test_parsers():
    assert video.parse_resolution("64x48") == (64, 48)
    assert video.parse_outputs("rgb, depth") == ["rgb", "depth"]
    assert video.parse_number("--n", "3", int, 1) == 3
    for bad in ("64", "0x10", "axb"):
        with pytest.raises(NerfspecError):
            video.parse_resolution(bad)
    for bad in ("", "rgb,normals", "rgb,rgb"):
        with pytest.raises(NerfspecError):
            video.parse_outputs(bad)
    for bad in ("x", "0", "1.5"):
        with pytest.raises(NerfspecError):
            video.parse_number("--n", bad, int, 1)
    assert video.even_size(np.zeros((5, 7, 3), np.uint8)).shape == (6, 8, 3)


# ----------------------------------------------------------------------------- geometry metrics


# ----------------------------------------------------------------------------- marching cubes


# ----------------------------------------------------------------------------- trained sphere


def test_render_mp4_and_gif(sphere_run, tmp_path, capsys):
    rc = main(["render", str(sphere_run), "--frames", "5", "--resolution", "24x16", "--gif",
               "--outputs", "rgb,depth", "--out", str(tmp_path)])
    assert rc == 0
    assert "s per frame" in capsys.readouterr().out
    frames = iio.imread(tmp_path / "orbit.mp4")
    assert frames.shape == (5, 16, 48, 3)  # rgb and depth side by side
    assert iio.imread(tmp_path / "orbit.gif").shape[:3] == (5, 16, 48)


def test_render_separate_outputs_and_kept_frames(sphere_run, tmp_path):
    rc = main(["render", str(sphere_run), "--path", "spiral", "--frames", "3", "--resolution", "16x16",
               "--outputs", "rgb,depth,opacity", "--layout", "separate", "--keep-frames", "--out", str(tmp_path)])
    assert rc == 0
    for name in ("rgb", "depth", "opacity"):
        assert iio.imread(tmp_path / f"spiral_{name}.mp4").shape == (3, 16, 16, 3)
        assert len(list((tmp_path / f"spiral_{name}_frames").glob("*.png"))) == 3


def test_render_interpolated_path(sphere_run, tmp_path):
    rc = main(["render", str(sphere_run), "--path", "interpolate", "--frames", "4", "--smoothing", "1",
               "--resolution", "16x12", "--out", str(tmp_path)])
    assert rc == 0 and iio.imread(tmp_path / "interpolate.mp4").shape == (4, 12, 16, 3)


def test_render_test_path_uses_the_test_views(sphere_run, tmp_path):
    rc = main(["render", str(sphere_run), "--path", "test", "--downscale", "2", "--out", str(tmp_path)])
    assert rc == 0
    frames = iio.imread(tmp_path / "test.mp4")
    from nerfspec.run import read_run_config

    root = read_run_config(sphere_run).data.root
    n_test = len(json.loads(open(f"{root}/transforms_test.json").read())["frames"])
    assert frames.shape == (n_test, 16, 16, 3)


# ----------------------------------------------------------------------------- bad input


