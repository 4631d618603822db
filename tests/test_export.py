"""Video and mesh export: colour map, camera-path helpers, geometry metrics against closed forms,
MP4/GIF output, and the mesh of a briefly trained unit sphere."""

from __future__ import annotations

import json
import math

import imageio.v3 as iio
import numpy as np
import pytest
import torch
import trimesh

from nerfspec.cameras import orbit_path
from nerfspec.cli import main
from nerfspec.config import config_from_dict
from nerfspec.errors import NerfspecError
from nerfspec.export import cleaning, geometry, mesh as meshing, mesh_eval, video

from tests.conftest import tiny_config_dict

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


def sphere_points(radius: float, n: int, seed: int) -> np.ndarray:
    p = np.random.default_rng(seed).normal(size=(n, 3))
    return radius * p / np.linalg.norm(p, axis=1, keepdims=True)


def test_chamfer_and_fscore_of_concentric_spheres():
    inner, outer = sphere_points(1.0, 20000, 0), sphere_points(1.1, 20000, 1)
    assert geometry.chamfer_l1(inner, outer) == pytest.approx(0.1, abs=0.004)
    assert geometry.chamfer_l1(inner, inner) == 0.0
    f, precision, recall = geometry.fscore(inner, outer, tau=0.05)
    assert (f, precision, recall) == (0.0, 0.0, 0.0)
    f, precision, recall = geometry.fscore(inner, outer, tau=0.2)
    assert (f, precision, recall) == (1.0, 1.0, 1.0)


def test_nearest_distances_exact_on_small_sets():
    a = np.array([[0.0, 0, 0], [3, 0, 0]])
    b = np.array([[1.0, 0, 0], [0, 2, 0]])
    assert np.allclose(geometry.nearest_distances(a, b), [1.0, 2.0])


def test_volume_iou_of_concentric_balls():
    x = np.random.default_rng(0).uniform(-1.5, 1.5, size=(200_000, 3))
    r = np.linalg.norm(x, axis=1)
    assert geometry.volume_iou(r < 0.8, r < 1.0) == pytest.approx(0.8 ** 3, abs=0.01)
    assert geometry.volume_iou(r < 0.1, r < 0.1) == 1.0
    assert geometry.volume_iou(np.zeros(3, bool), np.zeros(3, bool)) == 1.0


def test_winding_number_inside_outside_and_analytic_inside():
    ball = trimesh.creation.icosphere(subdivisions=2, radius=1.0)
    q = np.array([[0.0, 0, 0], [0.5, 0.2, -0.1], [1.5, 0, 0], [0, -2, 1]])
    w = geometry.winding_number(q, ball.vertices, ball.faces, pairs_per_chunk=100)
    assert np.allclose(w, [1, 1, 0, 0], atol=1e-6)

    from nerfspec.synth import raycast
    from nerfspec.synth import SCENES_DIR, load_scene_description

    shapes = raycast.build_shapes(load_scene_description(SCENES_DIR / "sphere.toml"))
    assert geometry.analytic_inside(shapes, q).tolist() == [True, True, False, False]


# ----------------------------------------------------------------------------- marching cubes


def radial_density(axes, radius: float = 1.0, sharpness: float = 40.0) -> np.ndarray:
    x, y, z = torch.meshgrid(*axes, indexing="ij")
    r = torch.sqrt(x * x + y * y + z * z)
    return (100.0 * torch.sigmoid(sharpness * (radius - r))).numpy()


def test_marching_cubes_of_a_radial_density_is_the_sphere():
    box = torch.tensor([-1.5, -1.5, -1.5, 1.5, 1.5, 1.5])
    axes = meshing.grid_axes(box, 48)
    mesh = meshing.marching_cubes(radial_density(axes), box, threshold=50.0)  # sigma = 50 at r = 1
    norms = np.linalg.norm(mesh.vertices, axis=1)
    assert norms.mean() == pytest.approx(1.0, abs=0.005) and norms.std() < 0.01
    assert mesh.is_watertight and mesh.volume > 0  # outward faces: positive volume


def test_marching_cubes_closes_surfaces_cut_by_the_box():
    box = torch.tensor([-1.0, -1, -1, 1, 1, 1])
    volume = np.full((8, 8, 8), 20.0, dtype=np.float32)  # everything dense
    mesh = meshing.marching_cubes(volume, box, threshold=10.0)
    assert mesh.is_watertight
    assert np.abs(mesh.vertices).max() == pytest.approx(1 + 0.5 * 2 / 7, abs=1e-6)  # half a voxel out


def test_filter_components_and_labels():
    a = trimesh.creation.icosphere(subdivisions=2)
    b = trimesh.creation.box(extents=(0.1, 0.1, 0.1))
    b.apply_translation([3, 0, 0])
    both = trimesh.util.concatenate([a, b])
    assert cleaning.component_labels(both).max() == 1
    assert len(cleaning.filter_components(both, keep_largest=True).faces) == len(a.faces)
    assert len(cleaning.filter_components(both, min_faces=13).faces) == len(a.faces)
    assert len(cleaning.filter_components(both).faces) == len(both.faces)


def test_query_mask_follows_the_occupancy_grid_and_dilation():
    binary = torch.zeros(4, 4, 4, dtype=torch.bool)
    binary[1, 2, 3] = True
    grown = meshing.dilate(binary, 1)
    assert int(grown.sum()) == 3 * 3 * 2
    box = torch.tensor([0.0, 0, 0, 4, 4, 4])
    axes = [torch.tensor([0.5, 1.5, 2.5, 3.5])] * 3  # cell centres
    mask = meshing.query_mask(axes, binary, box)
    assert mask.nonzero().tolist() == [[1, 2, 3]]

    calls = []

    def density(x):
        calls.append(len(x))
        return torch.full((len(x),), 7.0)

    grid, queries = meshing.density_grid(density, axes, mask)
    assert queries == 1 and grid[1, 2, 3] == 7.0 and grid.sum() == 7.0


def test_output_format_and_bbox_checks():
    from pathlib import Path

    assert meshing.output_format(Path("a.obj"), None) == "obj"
    assert meshing.output_format(Path("a.obj"), "glb") == "glb"
    with pytest.raises(NerfspecError):
        meshing.output_format(Path("a.stl"), None)
    with pytest.raises(NerfspecError):
        meshing.check_bbox([0, 0, 0, 1, -1, 1])


# ----------------------------------------------------------------------------- trained sphere

SPHERE_FIELD = {"view_dirs": False, "density_activation": "trunc_exp", "gauss": {"features": 32, "sigma": 1.0}}
SPHERE_TRAIN = {"lr": 1e-2, "lr_final": 5e-3, "rays_per_step": 512, "max_steps": 200, "checkpoint_every": 200}


@pytest.fixture(scope="module")
def sphere_run(tmp_path_factory):
    """The unit sphere (scenes/sphere.toml) at 32x32, 20 views, trained briefly."""
    from nerfspec.synth import make_tiny_scene
    from nerfspec.train import train

    base = tmp_path_factory.mktemp("sphere")
    scene = make_tiny_scene(base / "scene", size=32, views=20, scene="sphere")
    cfg = tiny_config_dict(scene, base / "outputs")
    cfg["name"] = "sphere"
    cfg["field"].update(SPHERE_FIELD)
    cfg["train"].update(SPHERE_TRAIN)
    return train(config_from_dict(cfg), quiet=True).run_dir


def test_sphere_meshes_to_its_radius(sphere_run, capsys):
    out = sphere_run / "mesh" / "sphere.obj"
    rc = main(["mesh", str(sphere_run), "--resolution", "64", "--threshold", "5", "--keep-largest",
               "--out", str(out), "--eval", "--eval-samples", "5000"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "vertices" in printed and "watertight" in printed and "Chamfer-L1" in printed
    mesh = trimesh.load(out, force="mesh", process=False)
    norms = np.linalg.norm(mesh.vertices, axis=1)
    assert norms.mean() == pytest.approx(1.0, rel=0.02), norms.mean()
    metrics = json.loads((sphere_run / "mesh" / "metrics.json").read_text())
    assert metrics["chamfer_l1"] < 0.05 and metrics["iou"] > 0.85
    assert 0 <= metrics["fscore"] <= 1 and metrics["components"] == 1


def test_mesh_eval_without_surface_reports_iou_and_no_distance(sphere_run, tmp_path, capsys):
    rc = main(["mesh", str(sphere_run), "--resolution", "16", "--threshold", "1e9", "--eval",
               "--eval-samples", "2000", "--out", str(tmp_path / "empty.ply")])
    assert rc == 0
    assert "no surface" in capsys.readouterr().out
    metrics = json.loads((sphere_run / "mesh" / "metrics.json").read_text())
    assert metrics["chamfer_l1"] is None and metrics["fscore"] == 0.0 and metrics["vertices"] == 0
    assert metrics["iou"] == 0.0  # nothing predicted inside, a sphere of ground truth


def test_mesh_default_ply_has_vertex_colours(sphere_run):
    from nerfspec.models import load_run

    run = load_run(sphere_run, "cpu")
    mesh, timings = meshing.extract_mesh(run, resolution=24, threshold=5.0)
    assert timings["queries"] <= 24 ** 3 and len(mesh.faces) > 0
    colours = np.asarray(mesh.visual.vertex_colors)
    assert colours.shape == (len(mesh.vertices), 4) and colours[:, :3].std() > 0
    path = meshing.write_mesh(mesh, sphere_run / "mesh" / "m.ply", "ply")
    assert len(trimesh.load(path, process=False).vertices) == len(mesh.vertices)


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


@pytest.mark.parametrize("command", ["mesh", "render"])
def test_not_a_run_is_one_line_exit_2(command, tmp_path, capsys):
    assert main([command, str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


@pytest.mark.parametrize("args", [
    ["mesh", "--resolution", "abc"], ["mesh", "--resolution", "1"], ["mesh", "--threshold", "-1"],
    ["mesh", "--bbox", "0", "0", "0", "1", "-1", "1"], ["mesh", "--format", "stl"],
    ["render", "--resolution", "64"], ["render", "--frames", "0"], ["render", "--outputs", "rgb,normals"],
    ["render", "--path", "zigzag"], ["render", "--layout", "grid"], ["render", "--smoothing", "-1"],
    ["render", "--resolution", "8x8", "--downscale", "2"],
])
def test_bad_options_are_one_line_exit_2(args, tmp_path, capsys):
    assert main([args[0], str(tmp_path), *args[1:]]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "run directory" not in err  # the option is checked before the run is loaded


def test_fill_cavities_fills_a_hollow_shell_but_not_an_open_cup():
    r = np.linalg.norm(np.stack(np.meshgrid(*[np.linspace(-1, 1, 33)] * 3, indexing="ij")), axis=0)
    shell = (r > 0.6) & (r < 0.8)
    solid = geometry.fill_cavities(shell)
    assert solid[16, 16, 16] and np.array_equal(solid, r < 0.8)
    cup = shell & ~((np.arange(33) > 24)[None, None, :])  # cut the top off: the inside opens
    assert not geometry.fill_cavities(cup)[16, 16, 16]
    # a cavity corner that no axis ray from the border reaches, open through a corridor
    box = np.ones((12, 12, 12), bool)
    box[2:10, 2:10, 2:10] = False  # cavity
    box[5, 5, 0:2] = False  # corridor into it along z
    assert not geometry.fill_cavities(box)[3, 3, 5]  # reached by growing, not by the axis seed
    box[5, 5, 0:2] = True  # sealed again
    assert geometry.fill_cavities(box)[3, 3, 5]


def test_grid_lookup_takes_the_nearest_grid_point():
    grid = np.arange(27).reshape(3, 3, 3)
    box = torch.tensor([0.0, 0.0, 0.0, 2.0, 2.0, 2.0])
    pts = np.array([[0.1, 0.0, 0.0], [1.9, 2.0, 1.2], [5.0, -1.0, 0.6]])
    assert mesh_eval.grid_lookup(grid, box, pts).tolist() == [0, 26 - 1 + 0, 18 + 0 + 1]


def test_box_corners_splits_min_and_max():
    lo, hi = meshing.box_corners(torch.tensor([-1.0, -2.0, -3.0, 1.0, 2.0, 3.0]))
    assert lo.tolist() == [-1.0, -2.0, -3.0] and hi.tolist() == [1.0, 2.0, 3.0]


def test_render_rate_gives_seconds_and_frames_per_second():
    from nerfspec.commands.common import render_rate

    assert render_rate(0.25, "view") == "0.250 s per view, 4.00 frames/s (rendering)"
    assert "0.50 frames/s" in render_rate(2.0, "frame")
