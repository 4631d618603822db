"""nerfspec.export.mesh: marching cubes, components, the occupancy grid's query mask, format and
box checks, and the mesh of a briefly trained unit sphere through nerfspec mesh."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import trimesh

from nerfspec.cli import main
from nerfspec.errors import NerfspecError
from nerfspec.export import cleaning, mesh as meshing


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


def test_box_corners_splits_min_and_max():
    lo, hi = meshing.box_corners(torch.tensor([-1.0, -2.0, -3.0, 1.0, 2.0, 3.0]))
    assert lo.tolist() == [-1.0, -2.0, -3.0] and hi.tolist() == [1.0, 2.0, 3.0]


def test_depth_cull_of_the_sphere_run_keeps_the_sphere(sphere_run, tmp_path):
    out = tmp_path / "depth.ply"
    rc = main(["mesh", str(sphere_run), "--resolution", "48", "--threshold", "5", "--cull", "depth",
               "--out", str(out), "--metrics", str(tmp_path / "m.json"), "--no-colours"])
    assert rc == 0
    metrics = json.loads((tmp_path / "m.json").read_text())
    report = metrics["cleaning"]
    assert report["cull"] == "depth" and report["depth_margin"] == pytest.approx(2 * 3.0 / 47, rel=1e-3)
    mesh = trimesh.load(out, force="mesh", process=False)
    norms = np.linalg.norm(mesh.vertices, axis=1)
    assert norms.mean() == pytest.approx(1.0, rel=0.05) and report["faces_after"] > 0.8 * report["faces_before"]
