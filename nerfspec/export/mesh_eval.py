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
from nerfspec.export import geometry, visibility, zbuffer
from nerfspec.export.mesh import box_corners
from nerfspec.models import LoadedRun

OCCLUSION_SCALE = 2  # z-buffer samples per pixel and axis for the mesh's own occlusion


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


def visible_scores(mesh: trimesh.Trimesh, pred_pts: np.ndarray, gt_pts: np.ndarray, d_pred: np.ndarray,
                   d_gt: np.ndarray, cameras: Cameras, shapes: list, tau: float) -> dict:
    """The scores of ``surface_scores`` on what the training cameras see of each surface (the
    rule of ``nerfspec.export.visibility``, tolerance tau): recall over the true points that some
    camera sees past the true surface (occlusion by the analytic ``shapes``), precision over
    the predicted points that some camera sees past the predicted surface (occlusion by
    ``mesh`` itself, ``zbuffer.seen_unoccluded_by_mesh``), each against the whole of the other
    surface (a correct point next to an unseen part still counts). A face no camera sees on the
    mesh, however wrong (the inside of a solid, an underside closed where no camera looked),
    counts for neither; a face a camera sees counts wherever it lies, in front of the true
    surface or sunk behind it.

    Also the seen share of each point set ("gt_seen_fraction", "pred_seen_fraction") and the
    precision over the predicted points that a camera would see past the *true* surface
    ("visible_precision_true_occlusion"): that rule leaves out predicted surface sunk more than
    tau behind the true one, so it favours surfaces that err inwards."""
    hit = visibility.analytic_first_hit(shapes)
    seen_gt = visibility.seen_points(gt_pts, cameras, hit, tau)
    seen_pred = zbuffer.seen_unoccluded_by_mesh(pred_pts, cameras, mesh.vertices, mesh.faces, tau, OCCLUSION_SCALE)
    out = surface_scores(d_pred[seen_pred], d_gt[seen_gt], tau, "visible_")
    true_occ = visibility.seen_points(pred_pts, cameras, hit, tau) if len(pred_pts) else np.zeros(0, bool)
    out.update(gt_seen_fraction=float(seen_gt.mean()),
               pred_seen_fraction=float(seen_pred.mean()) if len(seen_pred) else None,
               visible_precision_true_occlusion=float((d_pred[true_occ] < tau).mean()) if true_occ.any() else None)
    return out


def pred_sample_count(mesh_area: float, gt_area: float, samples: int) -> int:
    """Points to sample on a mesh of ``mesh_area`` for the density of ``samples`` points on the
    true surface's ``gt_area``: samples * mesh_area / gt_area, within [samples / 10, 4 samples].

    A point's distance to the other surface is measured to that surface's nearest sample, so
    the samples' spacing inflates it (a miss just inside tau); at equal density the inflation is
    the same for every mesh, and recall does not rise merely because cleaning shrank a mesh."""
    if gt_area <= 0:
        return samples
    return int(min(4 * samples, max(samples // 10, round(samples * mesh_area / gt_area))))


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

    Surfaces: ``samples`` area-uniform points on the true surface and as many per unit area on
    the mesh (``pred_sample_count``), so that a large mesh (uncleaned, with its hidden inner
    faces) is measured as finely as a cleaned one. IoU: ``samples`` uniform points in
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
        n_pred = pred_sample_count(float(mesh.area), float(gt.area), samples)
        pred_pts = np.asarray(trimesh.sample.sample_surface(mesh, n_pred, seed=seed)[0])
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
        metrics.update(visible_scores(mesh, pred_pts, gt_pts, d_pred, d_gt, cameras, shapes, tau))
        metrics["visible_rule"] = (f"points some training camera sees within {tau:g} past their own surface: "
                                   f"true points occluded by the analytic scene, mesh points by the mesh "
                                   f"({len(cameras)} views)")
    metrics.update({
        "fscore_tau": tau,
        "iou": geometry.volume_iou(pred_occ, gt_occ),
        "iou_density": geometry.volume_iou(density_occ, gt_occ),
        "surface_samples": samples, "mesh_surface_samples": len(pred_pts), "iou_samples": samples,
        "iou_occupancy_pred": (f"mesh grid > {threshold if volume_level is None else volume_level:g}, cavities filled"
                               if volume is not None
                               else f"density > {threshold}"), "iou_occupancy_gt": gt_source,
        "ground_truth": str(gt_path), "units": "scene units",
    })
    return metrics


def _inside_box(points: np.ndarray, bbox: Tensor) -> np.ndarray:
    lo, hi = box_corners(bbox)
    return np.all((points >= lo) & (points <= hi), axis=1)
