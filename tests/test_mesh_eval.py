"""nerfspec.export.mesh_eval: the scores of a mesh against the ground truth, on the whole surface
and restricted to what the training cameras see, against closed forms."""

import numpy as np
import pytest
import torch
import trimesh

from nerfspec.export import geometry, mesh_eval
from nerfspec.cameras import Cameras
from tests.test_visibility import camera_at, unit_sphere_shapes


def test_grid_lookup_takes_the_nearest_grid_point():
    grid = np.arange(27).reshape(3, 3, 3)
    box = torch.tensor([0.0, 0.0, 0.0, 2.0, 2.0, 2.0])
    pts = np.array([[0.1, 0.0, 0.0], [1.9, 2.0, 1.2], [5.0, -1.0, 0.6]])
    assert mesh_eval.grid_lookup(grid, box, pts).tolist() == [0, 26 - 1 + 0, 18 + 0 + 1]


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


def test_recall_does_not_depend_on_hidden_faces_at_equal_density():
    """A shell 0.01 off the unit sphere, alone and with a hidden inner sphere (a quarter more
    area): sampled per unit area alike, both recall the truth alike (a fixed count would sample
    the shell of the second a fifth more sparsely, and miss more true points within tau)."""
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
