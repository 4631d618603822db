"""A mesh against a generated scene's ground truth: Chamfer-L1, F-score and volumetric IoU, on
the whole true surface and on the part of it that some training camera sees."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import trimesh
from torch import Tensor

from nerfspec.cameras import Cameras
from nerfspec.config import DataConfig
from nerfspec.errors import NerfspecError
from nerfspec.export import geometry, visibility
from nerfspec.export.mesh import box_corners
from nerfspec.models import LoadedRun


def grid_lookup(grid: np.ndarray, bbox: Tensor, points: np.ndarray) -> np.ndarray:
    """Values of ``grid`` (R, R, R) sampled at the corners-inclusive grid over bbox, at the
    grid point nearest to each of points (Q, 3) -> (Q,); points outside the box clamp."""
    lo, hi = box_corners(bbox)
    res = np.asarray(grid.shape)
    idx = np.rint((np.asarray(points) - lo) / (hi - lo) * (res - 1)).astype(np.int64)
    idx = np.clip(idx, 0, res - 1)
    return grid[idx[:, 0], idx[:, 1], idx[:, 2]]


def surface_scores(d_pred: np.ndarray, d_gt: np.ndarray, tau: float, prefix: str = "") -> dict:
    """Chamfer-L1, F-score, precision and recall at ``tau`` from nearest distances d_pred (P,)
    of predicted points to the true surface and d_gt (G,) of true points to the prediction,
    keys prefixed by ``prefix``; no predicted points -> Chamfer None, precision None, F 0."""
    if len(d_pred) == 0 or len(d_gt) == 0:
        return {f"{prefix}chamfer_l1": None, f"{prefix}fscore": 0.0, f"{prefix}precision": None,
                f"{prefix}recall": 0.0}
    f, precision, recall = geometry.fscore_from_distances(d_pred, d_gt, tau)
    return {f"{prefix}chamfer_l1": geometry.chamfer_from_distances(d_pred, d_gt), f"{prefix}fscore": f,
            f"{prefix}precision": precision, f"{prefix}recall": recall}


def visible_scores(pred_pts: np.ndarray, gt_pts: np.ndarray, d_pred: np.ndarray, d_gt: np.ndarray,
                   cameras: Cameras, shapes: list, tau: float) -> dict:
    """The scores of ``surface_scores`` restricted to what the training cameras see (the rule of
    ``nerfspec.export.visibility``, occlusion by the analytic ``shapes``, tolerance tau):
    precision over the seen predicted points against the whole true surface, recall over the
    seen true points against the whole prediction (a correct point next to an unseen part
    still counts). Also the seen share of each point set ("gt_seen_fraction", "pred_seen_fraction")."""
    hit = visibility.analytic_first_hit(shapes)
    seen_gt = visibility.seen_points(gt_pts, cameras, hit, tau)
    seen_pred = visibility.seen_points(pred_pts, cameras, hit, tau) if len(pred_pts) else np.zeros(0, bool)
    out = surface_scores(d_pred[seen_pred], d_gt[seen_gt], tau, "visible_")
    out.update(gt_seen_fraction=float(seen_gt.mean()),
               pred_seen_fraction=float(seen_pred.mean()) if len(seen_pred) else None)
    return out


def _load_ground_truth(root: Path) -> tuple[Path, trimesh.Trimesh]:
    gt_path = root / "mesh.ply"
    if not gt_path.is_file():
        raise NerfspecError(f"{gt_path}: no ground-truth mesh for --eval (generated scenes have one)")
    try:
        return gt_path, trimesh.load(gt_path, force="mesh", process=False)
    except Exception as exc:
        raise NerfspecError(f"{gt_path}: cannot read the ground-truth mesh ({type(exc).__name__})") from None


@torch.inference_mode()
def evaluate_geometry(run: LoadedRun, data: DataConfig, mesh: trimesh.Trimesh, threshold: float, tau: float,
                      samples: int = 100_000, seed: int = 0, volume: np.ndarray | None = None,
                      volume_bbox: Tensor | None = None, cameras: Cameras | None = None,
                      volume_level: float | None = None) -> dict:
    """Chamfer-L1, F-score at ``tau`` (scene units) and volumetric IoU against the scene's
    ground truth (``data.root/mesh.ply``, ``data`` the run's DataConfig); with the training
    ``cameras`` and the generator's ``scene.toml``, the same surface scores on what those
    cameras see ("visible_*").

    Surfaces: ``samples`` area-uniform points on each mesh. IoU: ``samples`` uniform points in
    the data box; predicted occupancy ("iou") is the solid {sigma > threshold} of the mesh's
    grid ``volume`` over ``volume_bbox`` (above ``volume_level``, default ``threshold``: the
    density grid, or a fused TSDF's 1 - d) with hollow interiors filled (a NeRF only needs
    an opaque shell, and the density inside one is never supervised), at the nearest grid
    point; "iou_density" uses sigma(x) > threshold itself, as does "iou" without a volume;
    ground-truth occupancy is the analytic primitives' SDF < 0 when the scene folder
    has the generator's ``scene.toml``, else the winding number of mesh.ply > 0.5 (robust to the
    generator's union mesh, which is not watertight where primitives touch). An empty mesh
    (no density reaches ``threshold``) has no Chamfer distance (None), F-score 0 and its IoU.
    """
    root = Path(data.root)
    gt_path, gt = _load_ground_truth(root)
    gt_pts = np.asarray(trimesh.sample.sample_surface(gt, samples, seed=seed + 1)[0])
    if len(mesh.faces):
        pred_pts = np.asarray(trimesh.sample.sample_surface(mesh, samples, seed=seed)[0])
        d_pred, d_gt = geometry.nearest_distances(pred_pts, gt_pts), geometry.nearest_distances(gt_pts, pred_pts)
    else:  # no surface at this threshold (e.g. a field too blurred to reach it): no distance
        pred_pts, d_pred, d_gt = np.zeros((0, 3)), np.zeros(0), np.full(len(gt_pts), np.inf)
    metrics = surface_scores(d_pred, d_gt, tau)

    box = torch.as_tensor(data.aabb, dtype=torch.float32)
    gen = torch.Generator().manual_seed(seed)
    x = box[:3] + torch.rand(samples, 3, generator=gen) * (box[3:] - box[:3])
    sigma = torch.cat([run.field.density(c.to(run.device)).float().cpu() for c in x.split(65536)])
    density_occ = (sigma > threshold).numpy()
    pred_occ = density_occ
    if volume is not None:
        level = threshold if volume_level is None else volume_level
        solid = geometry.fill_cavities(volume > level)
        pred_occ = grid_lookup(solid, volume_bbox, x.numpy()) & _inside_box(x.numpy(), volume_bbox)
    scene_toml = root / "scene.toml"
    shapes = None
    if scene_toml.is_file():
        from nerfspec.synth import raycast
        from nerfspec.synth import load_scene_description

        shapes = raycast.build_shapes(load_scene_description(scene_toml))
        gt_occ = geometry.analytic_inside(shapes, x.numpy())
        gt_source = "analytic scene.toml primitives (sdf < 0)"
    else:
        gt_occ = geometry.winding_number(x.numpy(), gt.vertices, gt.faces) > 0.5
        gt_source = "winding number of mesh.ply > 0.5"
    if shapes is not None and cameras is not None:
        metrics.update(visible_scores(pred_pts, gt_pts, d_pred, d_gt, cameras, shapes, tau))
        metrics["visible_rule"] = (f"points some training camera sees, unoccluded by the analytic scene "
                                   f"within {tau:g} ({len(cameras)} views)")
    metrics.update({
        "fscore_tau": tau,
        "iou": geometry.volume_iou(pred_occ, gt_occ),
        "iou_density": geometry.volume_iou(density_occ, gt_occ),
        "surface_samples": samples, "iou_samples": samples,
        "iou_occupancy_pred": (f"mesh grid > {threshold if volume_level is None else volume_level:g}, cavities filled"
                               if volume is not None
                               else f"density > {threshold}"), "iou_occupancy_gt": gt_source,
        "ground_truth": str(gt_path), "units": "scene units",
    })
    return metrics


def _inside_box(points: np.ndarray, bbox: Tensor) -> np.ndarray:
    lo, hi = box_corners(bbox)
    return np.all((points >= lo) & (points <= hi), axis=1)
