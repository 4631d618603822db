"""nerfspec.export.mesh_eval: the scores of a mesh against the ground truth, on the whole surface
and restricted to what the training cameras see, against closed forms."""

import numpy as np
import pytest
import torch

from nerfspec.export import geometry, mesh_eval
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


def test_visible_score_ignores_what_no_camera_sees():
    """The true sphere seen from above; the prediction has the upper part right, and junk inside
    the sphere and under it: the full score is poor, the visible one perfect."""
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(4000, 3))
    gt /= np.linalg.norm(gt, axis=1, keepdims=True)
    upper = gt[gt[:, 2] > -0.2]  # covers both views' visible caps (down to z = -0.13)
    inside = rng.uniform(-0.3, 0.3, size=(500, 3))
    under = np.concatenate([rng.uniform(-0.2, 0.2, size=(500, 2)), rng.uniform(-1.6, -1.3, size=(500, 1))], axis=1)
    pred = np.concatenate([upper, inside, under])
    d_pred, d_gt = geometry.nearest_distances(pred, gt), geometry.nearest_distances(gt, pred)
    cams = camera_at((0.0, 0.0, 4.0), (0.0, 1.5, 3.7))
    out = mesh_eval.visible_scores(pred, gt, d_pred, d_gt, cams, unit_sphere_shapes(), 0.05)
    full = mesh_eval.surface_scores(d_pred, d_gt, 0.05)
    assert full["precision"] < 0.8 and full["recall"] < 0.9
    assert out["visible_precision"] == 1.0 and out["visible_recall"] == 1.0
    assert 0.3 < out["gt_seen_fraction"] < 0.8 and out["pred_seen_fraction"] < 0.8
