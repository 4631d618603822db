"""Mesh quality: what the training cameras see (frustum and occlusion by the analytic scene), the
score restricted to it, cleaning rules, and TSDF fusion of depth maps, against closed forms."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import trimesh

from nerfspec.cameras import Cameras, look_at
from nerfspec.cli import main
from nerfspec.synth import raycast
from nerfspec.synth import SCENES_DIR, load_scene_description
from nerfspec.export import cleaning, geometry, mesh_eval, tsdf, visibility

from tests.test_export import sphere_run  # noqa: F401  (the module's briefly trained unit sphere)

FOCAL = 40.0
SIZE = 32


def camera_at(*eyes) -> Cameras:
    """Pinhole cameras (32 px, focal 40) at ``eyes`` looking at the origin."""
    c2w = torch.stack([look_at(torch.tensor(e, dtype=torch.float64)).float() for e in eyes])
    return Cameras.pinhole(c2w, SIZE, SIZE, FOCAL)


def unit_sphere_shapes() -> list:
    return raycast.build_shapes(load_scene_description(SCENES_DIR / "sphere.toml"))


def test_unit_sphere_scene_is_the_unit_sphere_at_the_origin():
    (shape,) = unit_sphere_shapes()
    assert shape.r == pytest.approx(1.0) and np.allclose(shape.center, 0.0)


def test_one_camera_sees_its_hemisphere_and_nothing_behind_or_inside():
    cams = camera_at((0.0, 0.0, 4.0))
    hit = visibility.analytic_first_hit(unit_sphere_shapes())
    pts = np.array([
        [0.0, 0.0, 1.0],      # nearest point: seen
        [0.6, 0.0, 0.8],      # near hemisphere: seen
        [0.0, 0.0, -1.0],     # far side: occluded
        [0.0, 0.0, 0.0],      # inside the sphere: occluded
        [0.0, 0.0, 2.0],      # free space in front: seen
        [0.0, 0.0, 5.0],      # behind the camera: not in the frustum
        [3.0, 0.0, 1.0],      # off to the side, outside the frustum
    ])
    seen = visibility.seen_points(pts, cams, hit, tol=0.01)
    assert seen.tolist() == [True, True, False, False, True, False, False]
    assert visibility.in_any_frustum(pts, cams).tolist() == [True] * 5 + [False, False]
    both = camera_at((0.0, 0.0, 4.0), (0.0, 0.0, -4.0))  # a second camera sees the far side
    assert visibility.seen_points(pts, both, hit, tol=0.01).tolist() == [True, True, True, False, True, False, False]


def test_the_tolerance_lets_points_just_behind_the_surface_count():
    cams = camera_at((0.0, 0.0, 4.0))
    hit = visibility.analytic_first_hit(unit_sphere_shapes())
    pts = np.array([[0.0, 0.0, 0.985], [0.0, 0.0, 0.95]])  # 0.015 and 0.05 below the surface
    assert visibility.seen_points(pts, cams, hit, tol=0.02).tolist() == [True, False]


def test_scores_from_distances_of_subsets():
    d_pred = np.array([0.0, 0.01, 0.5, 0.5])
    d_gt = np.array([0.0, 0.03])
    f, p, r = geometry.fscore_from_distances(d_pred, d_gt, 0.02)
    assert (p, r) == (0.5, 0.5) and f == pytest.approx(0.5)
    assert geometry.chamfer_from_distances(d_pred, d_gt) == pytest.approx(0.5 * (1.01 / 4 + 0.015))
    s = mesh_eval.surface_scores(d_pred[:2], d_gt, 0.02, "visible_")
    assert s["visible_precision"] == 1.0 and s["visible_recall"] == 0.5
    empty = mesh_eval.surface_scores(np.zeros(0), d_gt, 0.02)
    assert empty["chamfer_l1"] is None and empty["fscore"] == 0.0


def scored(pred: trimesh.Trimesh, cams: Cameras, tau: float = 0.05) -> dict:
    """visible_scores of ``pred`` (10000 points) against the unit sphere (20000, 0.03 apart)."""
    gt = trimesh.creation.icosphere(subdivisions=4)
    gt_pts = np.asarray(trimesh.sample.sample_surface(gt, 20000, seed=1)[0])
    pred_pts = np.asarray(trimesh.sample.sample_surface(pred, 10000, seed=0)[0])
    d_pred, d_gt = geometry.nearest_distances(pred_pts, gt_pts), geometry.nearest_distances(gt_pts, pred_pts)
    return mesh_eval.visible_scores(pred, pred_pts, gt_pts, d_pred, d_gt, cams, unit_sphere_shapes(), tau)


def test_visible_score_ignores_what_no_camera_sees():
    """The true sphere seen from above; the prediction has the upper part right, and junk inside
    the sphere and under it that its own surface hides: the full score is poor, the visible one
    perfect."""
    sphere = trimesh.creation.icosphere(subdivisions=4)
    cap = sphere.copy()
    cap.update_faces(sphere.triangles_center[:, 2] > -0.2)  # covers both views' visible caps (down to z = -0.13)
    inside = trimesh.creation.icosphere(subdivisions=2, radius=0.3)
    under = trimesh.creation.box(extents=(0.4, 0.4, 0.3))
    under.apply_translation([0.0, 0.0, -1.45])
    pred = trimesh.util.concatenate([cap, inside, under])
    cams = camera_at((0.0, 0.0, 4.0), (0.0, 1.5, 3.7))
    out = scored(pred, cams)
    assert out["visible_precision"] == 1.0 and out["visible_recall"] > 0.995  # the cap's rim is ragged
    assert 0.3 < out["gt_seen_fraction"] < 0.8 and out["pred_seen_fraction"] < 0.8
    pred_pts = np.asarray(trimesh.sample.sample_surface(pred, 10000, seed=0)[0])
    gt_pts = np.asarray(trimesh.sample.sample_surface(sphere, 20000, seed=1)[0])
    full = mesh_eval.surface_scores(geometry.nearest_distances(pred_pts, gt_pts),
                                    geometry.nearest_distances(gt_pts, pred_pts), 0.05)
    assert full["precision"] < 0.8 and full["recall"] < 0.9


@pytest.mark.parametrize("radius", [0.9, 1.1])
def test_a_seen_surface_off_the_truth_counts_inwards_as_outwards(radius):
    """A sphere 0.1 too small or too large, seen from above: every point of it the cameras see
    is wrong either way; judged by the true sphere's occlusion, the sunk one would be unseen."""
    cams = camera_at((0.0, 0.0, 4.0), (0.0, 1.5, 3.7))
    out = scored(trimesh.creation.icosphere(subdivisions=4, radius=radius), cams)
    assert out["visible_precision"] == 0.0 and 0.3 < out["pred_seen_fraction"] < 0.7
    if radius < 1:
        assert out["visible_precision_true_occlusion"] is None  # no point of it in front of the true surface
    else:
        assert out["visible_precision_true_occlusion"] == 0.0


def test_mesh_samples_match_the_true_surface_density():
    assert mesh_eval.pred_sample_count(26.0, 13.0, 1000) == 2000  # twice the area, twice the points
    assert mesh_eval.pred_sample_count(6.5, 13.0, 1000) == 500
    assert mesh_eval.pred_sample_count(1e3, 13.0, 1000) == 4000 and mesh_eval.pred_sample_count(1e-3, 13.0, 1000) == 100
    # at equal density a mesh's recall does not depend on the hidden faces it also holds
    gt = trimesh.creation.icosphere(subdivisions=4)
    shell = trimesh.creation.icosphere(subdivisions=4, radius=1.01)
    hidden = trimesh.util.concatenate([shell, trimesh.creation.icosphere(subdivisions=4, radius=0.5)])
    gt_pts = np.asarray(trimesh.sample.sample_surface(gt, 3000, seed=1)[0])
    recall = []
    for pred in (shell, hidden):
        n = mesh_eval.pred_sample_count(pred.area, gt.area, 3000)
        pts = np.asarray(trimesh.sample.sample_surface(pred, n, seed=0)[0])
        recall.append((geometry.nearest_distances(gt_pts, pts) < 0.04).mean())
    assert abs(recall[0] - recall[1]) < 0.01, recall


def two_spheres() -> trimesh.Trimesh:
    """A unit sphere at the origin and a small one at (0, 0, 2.5)."""
    big = trimesh.creation.icosphere(subdivisions=3)
    small = trimesh.creation.icosphere(subdivisions=1, radius=0.1)
    small.apply_translation([0.0, 0.0, 2.5])
    return trimesh.util.concatenate([big, small])


def test_frustum_rule_drops_faces_no_camera_looks_at():
    mesh = two_spheres()
    side = camera_at((0.0, -4.0, 0.0))  # sees the origin; (0, 0, 2.5) is outside its 22-degree half view
    out, report = cleaning.clean_mesh(mesh, cleaning.CleanSpec("frustum"), side)
    assert report["removed_outside_frusta"] == 80 and len(out.faces) == len(mesh.faces) - 80
    assert report["components_before"] == 2 and report["components_after"] == 1
    kept, report = cleaning.clean_mesh(mesh, cleaning.CleanSpec("none"), side)
    assert len(kept.faces) == len(mesh.faces) and report["removed_outside_frusta"] == 0


def test_silhouette_rule_drops_faces_seen_against_background():
    mesh = two_spheres()
    top = camera_at((0.0, 0.1, 6.0))  # both spheres in view
    i, j, _ = top.project(torch.tensor([[0.0, 0.0, 0.0]]), 0)
    alpha = torch.zeros(1, SIZE, SIZE, dtype=torch.uint8)
    yy, xx = torch.meshgrid(torch.arange(SIZE), torch.arange(SIZE), indexing="ij")
    alpha[0][((xx - i) ** 2 + (yy - j) ** 2) < 7.0 ** 2] = 255  # the big sphere's disc (radius ~6.9 px)
    out, report = cleaning.clean_mesh(mesh, cleaning.CleanSpec("silhouette"), top, alpha)
    # the small sphere lies over the big one's disc from above: the silhouette keeps it ...
    assert report["removed_by_silhouettes"] == 0
    side = camera_at((0.0, -8.0, 0.0))  # ... a side view sees it against the background
    i, j, _ = side.project(torch.tensor([[0.0, 0.0, 0.0]]), 0)
    alpha[0] = 0
    alpha[0][((xx - i) ** 2 + (yy - j) ** 2) < 5.5 ** 2] = 255  # radius ~5.0 px from 8 units away
    out, report = cleaning.clean_mesh(mesh, cleaning.CleanSpec("silhouette"), side, alpha)
    assert report["removed_by_silhouettes"] == 80 and report["components_after"] == 1
    assert len(out.faces) == len(mesh.faces) - 80


def test_min_component_share_drops_small_pieces():
    mesh = two_spheres()  # 1280 + 80 faces
    out, report = cleaning.clean_mesh(mesh, cleaning.CleanSpec("none", min_component=0.07), None)
    assert report["removed_small_components"] == 80 and len(out.faces) == 1280  # 80 < 0.07 x 1360
    out, report = cleaning.clean_mesh(mesh, cleaning.CleanSpec("none", min_component=0.05), None)
    assert report["removed_small_components"] == 0 and report["components_after"] == 2  # 80 >= 68


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


def test_tsdf_mesh_of_the_sphere_run_has_its_radius(sphere_run, tmp_path):  # noqa: F811
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


def depth_of_unit_sphere(cams: Cameras) -> torch.Tensor:
    """(N, H, W) distance along each pixel's unit ray to the unit sphere, inf on a miss."""
    hit = visibility.analytic_first_hit(unit_sphere_shapes())
    maps = []
    for k in range(len(cams)):
        origins, dirs = cams.image_rays(k)
        maps.append(torch.from_numpy(hit(origins[0].double().numpy(), dirs.double().numpy())).float())
    return torch.stack(maps).reshape(len(cams), cams.height, cams.width)


def test_seen_in_depth_maps_up_to_the_margin():
    cams = camera_at((0.0, 0.0, 3.0))
    depth = torch.full((1, SIZE, SIZE), 3.0)  # distance 3 along every ray: through the origin on the axis
    pts = np.array([[0.0, 0.0, 0.5], [0.0, 0.0, -0.01], [0.0, 0.0, -0.05], [5.0, 0.0, 0.0]])
    assert visibility.seen_in_depth_maps(pts, cams, depth, 0.02, spread=0).tolist() == [True, True, False, False]
    background = torch.full_like(depth, float("inf"))  # a view seeing nothing there sees all it looks at
    assert visibility.seen_in_depth_maps(pts, cams, background, 0.02).tolist() == [True, True, True, False]


def test_seen_in_depth_maps_takes_the_far_side_of_a_depth_edge():
    """Columns 0..15 render a surface at distance 2, columns 16.. background: a point at distance
    3 on column 15's ray is hidden for that pixel alone, seen through its background neighbour."""
    cams = camera_at((0.0, 0.0, 3.0))
    depth = torch.full((1, SIZE, SIZE), float("inf"))
    depth[:, :, :16] = 2.0
    origins, dirs = cams.rays(torch.tensor([0, 0]), torch.tensor([15, 10]), torch.tensor([16, 16]))
    pts = (origins + 3.0 * dirs).double().numpy()
    assert visibility.seen_in_depth_maps(pts, cams, depth, 0.02, spread=0).tolist() == [False, False]
    assert visibility.seen_in_depth_maps(pts, cams, depth, 0.02, spread=1).tolist() == [True, False]


def test_depth_rule_drops_what_is_behind_the_rendered_surface():
    """A unit sphere with a smaller one inside it, seen by one camera above: the inner sphere and
    the outer one's far side are behind the surface the camera renders; its near cap stays."""
    outer = trimesh.creation.icosphere(subdivisions=3)
    inner = trimesh.creation.icosphere(subdivisions=2, radius=0.5)
    mesh = trimesh.util.concatenate([outer, inner])
    cams = Cameras.pinhole(look_at(torch.tensor([0.0, 0.0, 4.0], dtype=torch.float64)).float()[None], 128, 128, 160.0)
    out, report = cleaning.clean_mesh(mesh, cleaning.CleanSpec("depth", depth_margin=0.02), cams,
                                      depths=depth_of_unit_sphere(cams))
    kept = np.asarray(out.triangles_center)
    assert np.linalg.norm(kept, axis=1).min() > 0.9  # nothing of the inner sphere
    assert kept[:, 2].min() > -0.05  # it sees the cap z > 1/4; within a pixel of the outline, down to the equator
    cap = np.asarray(outer.triangles_center)[:, 2] > 0.5  # 5 pixels inside the outline and more: all kept
    assert (np.linalg.norm(kept[:, None] - np.asarray(outer.triangles_center)[cap][None], axis=2).min(axis=0)
            < 1e-9).all()
    assert report["removed_behind_depth"] == len(mesh.faces) - len(out.faces)
    assert report["removed_outside_frusta"] == 0 and report["components_after"] == 1
    _, report = cleaning.clean_mesh(mesh, cleaning.CleanSpec("frustum"), cams)
    assert report["removed_behind_depth"] == 0
    with pytest.raises(ValueError, match="depth maps"):
        cleaning.clean_mesh(mesh, cleaning.CleanSpec("depth"), cams)


def test_depth_cull_of_the_sphere_run_keeps_the_sphere(sphere_run, tmp_path):  # noqa: F811
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


@pytest.mark.parametrize("args", [["--method", "poisson"], ["--cull", "hull"], ["--min-component", "2"],
                                  ["--tsdf-trunc", "0"], ["--tsdf-opacity", "0"],
                                  ["--depth-margin", "-1"]])
def test_bad_mesh_options_are_one_line_exit_2(args, tmp_path, capsys):
    assert main(["mesh", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "run directory" not in err
