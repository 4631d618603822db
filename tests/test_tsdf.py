"""nerfspec.export.tsdf: fusion of rendered depth maps into a truncated signed distance, against a
closed form and on a briefly trained unit sphere."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import trimesh

from nerfspec.cli import main
from nerfspec.export import tsdf
from tests.test_visibility import SIZE, camera_at


def test_tsdf_of_one_plane_depth_map():
    """A camera at z = 3 looking down at depth 3: the surface passes through the origin."""
    cams = camera_at((0.0, 0.0, 3.0))
    depth = torch.full((1, SIZE, SIZE), 3.0)  # the sphere of radius 3 about the camera: exact on the axis
    pts = torch.tensor([[0.0, 0.0, 0.5], [0.0, 0.0, 0.01], [0.0, 0.0, -0.02], [0.0, 0.0, -0.5],
                        [5.0, 0.0, 0.0]])
    d = tsdf.fuse_slab(pts, depth, cams, trunc=0.04)
    assert d.tolist() == pytest.approx([1.0, 0.25, -0.5, -1.0, 1.0], abs=1e-4)
    background = torch.full_like(depth, float("inf"))  # a view seeing nothing carves everything it sees
    assert tsdf.fuse_slab(pts, torch.cat([depth, background]), camera_at((0.0, 0.0, 3.0), (0.0, 0.0, 3.0)),
                          0.04)[3].item() == pytest.approx(1.0)


def test_tsdf_mesh_of_the_sphere_run_has_its_radius(sphere_run, tmp_path):
    out = tmp_path / "tsdf.ply"
    rc = main(["mesh", str(sphere_run), "--method", "tsdf", "--resolution", "48", "--out", str(out),
               "--metrics", str(tmp_path / "m.json"), "--eval", "--eval-samples", "3000", "--fscore-tau", "0.1"])
    assert rc == 0
    mesh = trimesh.load(out, force="mesh", process=False)
    norms = np.linalg.norm(mesh.vertices, axis=1)
    assert norms.mean() == pytest.approx(1.0, rel=0.05), norms.mean()
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["method"] == "tsdf" and metrics["components"] >= 1
    assert metrics["visible_fscore"] > 0.5 and 0.9 < metrics["gt_seen_fraction"] <= 1.0
    assert set(metrics["cleaning"]) >= {"removed_outside_frusta", "removed_by_silhouettes",
                                        "removed_small_components", "components_before", "components_after"}
