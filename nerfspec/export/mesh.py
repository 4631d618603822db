"""Mesh export: density on a grid -> marching cubes (PyMCubes) -> coloured triangle mesh.

The grid has ``resolution`` points per axis spanning the box corners, x_ijk = lo + (i, j, k) h
with h = (hi - lo) / (resolution - 1). Only points in (dilated) cells that the run's occupancy
grid marks occupied are queried; the others are taken as empty (density 0). The volume is
padded with one layer of zeros so that surfaces cut by the box close (watertight meshes).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
import trimesh
from torch import Tensor, nn
from tqdm import tqdm

from nerfspec.errors import NerfspecError
from nerfspec.export import geometry
from nerfspec.models import LoadedRun
from nerfspec.run import atomic_write_bytes

FORMATS = ("ply", "obj", "glb")
DEFAULT_THRESHOLD = 10.0  # sigma per scene unit: a 0.1-unit layer at this density stops 63% of the light


def box_corners(bbox) -> tuple[np.ndarray, np.ndarray]:
    """(lo (3,), hi (3,)) float64 of bbox = [xmin, ymin, zmin, xmax, ymax, zmax]."""
    b = np.asarray([float(v) for v in bbox], dtype=np.float64)
    return b[:3], b[3:]


def grid_axes(bbox: Tensor, resolution: int) -> list[Tensor]:
    """Three (R,) coordinate vectors lo_a + i (hi_a - lo_a) / (R - 1), i = 0..R-1, for
    bbox = [xmin, ymin, zmin, xmax, ymax, zmax]."""
    return [torch.linspace(float(bbox[a]), float(bbox[a + 3]), resolution) for a in range(3)]


def occupancy_binary(estimator: nn.Module) -> Tensor | None:
    """The estimator's occupied cells over the box (its finest level) as an (r, r, r) bool grid
    indexed [x, y, z], or None when it has none (the torch grid stores them flat, level-major,
    then x-major: index (x r + y) r + z)."""
    binary = getattr(estimator, "binary", None)
    if binary is None:
        return None
    r = round((binary.numel() // getattr(estimator, "levels", 1)) ** (1 / 3))
    return binary[: r ** 3].reshape(r, r, r).bool().cpu()


def dilate(mask: Tensor, cells: int = 1) -> Tensor:
    """Boolean (r, r, r) mask grown by ``cells`` in every direction (a (2c+1)^3 max filter)."""
    if cells <= 0:
        return mask
    k = 2 * cells + 1
    return torch.nn.functional.max_pool3d(mask[None, None].float(), k, stride=1, padding=cells)[0, 0] > 0


def query_mask(axes: list[Tensor], binary: Tensor, occ_aabb: Tensor) -> Tensor:
    """(R, R, R) bool: grid points x_ijk whose occupancy cell (of ``binary`` (r, r, r) over
    occ_aabb) is set; points outside occ_aabb are not queried."""
    r = binary.shape[0]
    idx, ok = [], []
    for a, ax in enumerate(axes):
        u = (ax - occ_aabb[a]) / (occ_aabb[a + 3] - occ_aabb[a])
        ok.append((u >= 0) & (u <= 1))
        idx.append((u * r).long().clamp(0, r - 1))
    sel = binary[idx[0][:, None, None], idx[1][None, :, None], idx[2][None, None, :]]
    return sel & ok[0][:, None, None] & ok[1][None, :, None] & ok[2][None, None, :]


@torch.inference_mode()
def density_grid(density_fn, axes: list[Tensor], mask: Tensor | None = None, chunk: int = 65536,
                 device: torch.device | str = "cpu", progress: bool = False) -> tuple[np.ndarray, int]:
    """sigma(x_ijk) on the grid -> ((R, R, R) float32 array, number of queries); points where
    ``mask`` (R, R, R) is False are not queried and hold 0. Evaluated slab by slab along x."""
    rx, ry, rz = (len(a) for a in axes)
    out = np.zeros((rx, ry, rz), dtype=np.float32)
    yz = torch.stack(torch.meshgrid(axes[1], axes[2], indexing="ij"), dim=-1).reshape(-1, 2)
    queries = 0
    for i in tqdm(range(rx), desc="density", disable=not progress, dynamic_ncols=True, leave=False):
        sel = slice(None) if mask is None else mask[i].reshape(-1)
        pts_yz = yz[sel]
        if len(pts_yz) == 0:
            continue
        pts = torch.cat([axes[0][i].expand(len(pts_yz), 1), pts_yz], dim=1).to(device)
        sig = torch.cat([density_fn(c).float().cpu() for c in pts.split(chunk)])
        flat = out[i].reshape(-1)
        if mask is None:
            flat[:] = sig.numpy()
        else:
            flat[mask[i].reshape(-1).numpy()] = sig.numpy()
        queries += len(pts)
    return out, queries


def marching_cubes(volume: np.ndarray, bbox: Tensor, threshold: float) -> trimesh.Trimesh:
    """Iso-surface {sigma = threshold} of volume (R, R, R) sampled at the corners-inclusive grid
    over bbox, with faces oriented outwards (towards lower density), in world units.

    The volume is zero-padded by one voxel first, so surfaces reaching the box are closed
    one voxel outside it. Vertex v (index space of the padded grid) maps to lo + (v - 1) h.
    """
    import mcubes

    padded = np.pad(volume, 1, mode="constant", constant_values=0.0)
    verts, faces = mcubes.marching_cubes(padded, float(threshold))
    lo, hi = box_corners(bbox)
    h = (hi - lo) / (np.asarray(volume.shape) - 1)
    verts = lo + (verts - 1.0) * h
    mesh = trimesh.Trimesh(vertices=verts, faces=faces.astype(np.int64), process=False)
    mesh.merge_vertices()
    return mesh


def component_labels(mesh: trimesh.Trimesh) -> np.ndarray:
    """Connected-component label of each face (faces sharing an edge connect) -> (F,) int."""
    if len(mesh.faces) == 0:
        return np.zeros(0, dtype=np.int64)
    return trimesh.graph.connected_component_labels(mesh.face_adjacency, node_count=len(mesh.faces))


def filter_components(mesh: trimesh.Trimesh, keep_largest: bool = False,
                      min_faces: int = 0) -> trimesh.Trimesh:
    """Drop small floating pieces: keep only the largest component (by face count) and/or
    the components with at least ``min_faces`` faces."""
    labels = component_labels(mesh)
    if len(labels) == 0 or (not keep_largest and min_faces <= 0):
        return mesh
    counts = np.bincount(labels)
    keep = counts >= min_faces
    if keep_largest:
        keep = np.zeros_like(keep)
        keep[np.argmax(counts)] = True
    out = mesh.copy()
    out.update_faces(keep[labels])
    out.remove_unreferenced_vertices()
    return out


@torch.inference_mode()
def vertex_colours(field: nn.Module, vertices: np.ndarray, normals: np.ndarray, eps: float,
                   chunk: int = 65536) -> np.ndarray:
    """(V, 4) uint8 RGBA: the field's colour at x - eps n seen along -n, i.e. just under the
    surface as a camera looking straight at it along the outward unit normal n would see it."""
    device = field.aabb.device
    x = torch.from_numpy(np.asarray(vertices, dtype=np.float32))
    n = torch.nn.functional.normalize(torch.from_numpy(np.asarray(normals, dtype=np.float32)), dim=-1)
    parts = []
    for xs, ns in zip((x - eps * n).split(chunk), n.split(chunk)):
        parts.append(field(xs.to(device), -ns.to(device))[1].float().cpu())
    rgb = torch.cat(parts) if parts else torch.zeros(0, 3)
    rgba = torch.cat([rgb.clamp(0, 1) * 255.0 + 0.5, torch.full((len(rgb), 1), 255.0)], dim=1)
    return rgba.to(torch.uint8).numpy()


def output_format(path: Path, fmt: str | None) -> str:
    """The export format: ``fmt`` when given, else the path's suffix (ply | obj | glb)."""
    fmt = (fmt or path.suffix.lstrip(".") or "ply").lower()
    if fmt not in FORMATS:
        raise NerfspecError(f"{path}: unsupported mesh format '{fmt}' (choose one of {', '.join(FORMATS)})")
    return fmt


def check_bbox(bbox) -> Tensor:
    b = torch.as_tensor(bbox, dtype=torch.float32).reshape(-1)
    if b.numel() != 6 or not torch.isfinite(b).all() or bool((b[:3] >= b[3:]).any()):
        raise NerfspecError(f"bbox must be xmin ymin zmin xmax ymax zmax with min < max, got {b.tolist()}")
    return b


def extract_mesh(run: LoadedRun, resolution: int = 256, threshold: float = DEFAULT_THRESHOLD,
                 bbox=None, keep_largest: bool = False, min_component_faces: int = 0,
                 use_occupancy: bool = True, colours: bool = True, chunk: int = 65536,
                 progress: bool = False, keep_volume: bool = False) -> tuple[trimesh.Trimesh, dict]:
    """The run's iso-surface {sigma = threshold} as a (vertex-coloured) mesh, and timings
    (with ``keep_volume``, also the density grid "volume" (R, R, R) and its "bbox" (6,))."""
    if resolution < 2:
        raise NerfspecError(f"mesh resolution must be >= 2, got {resolution}")
    if not threshold > 0:
        raise NerfspecError(f"density threshold must be > 0, got {threshold}")
    box = check_bbox(run.cfg.data.aabb if bbox is None else bbox)
    t0 = time.perf_counter()
    axes = grid_axes(box, resolution)
    mask = None
    binary = occupancy_binary(run.estimator) if use_occupancy else None
    if binary is not None and not bool(binary.all()):
        occ_aabb = torch.as_tensor(run.cfg.data.aabb, dtype=torch.float32)
        mask = query_mask(axes, dilate(binary, 1), occ_aabb)
    volume, queries = density_grid(run.field.density, axes, mask, chunk, run.device, progress)
    t1 = time.perf_counter()
    mesh = marching_cubes(volume, box, threshold)
    mesh = filter_components(mesh, keep_largest, min_component_faces)
    t2 = time.perf_counter()
    if colours and len(mesh.vertices):
        h = float((box[3:] - box[:3]).max()) / (resolution - 1)
        mesh.visual.vertex_colors = vertex_colours(run.field, mesh.vertices, mesh.vertex_normals, 0.5 * h, chunk)
    t3 = time.perf_counter()
    timings = {"density_s": t1 - t0, "marching_cubes_s": t2 - t1, "colours_s": t3 - t2,
               "total_s": t3 - t0, "queries": queries, "grid_points": resolution ** 3}
    if keep_volume:
        timings.update(volume=volume, bbox=box)
    return mesh, timings


def grid_lookup(grid: np.ndarray, bbox: Tensor, points: np.ndarray) -> np.ndarray:
    """Values of ``grid`` (R, R, R) sampled at the corners-inclusive grid over bbox, at the
    grid point nearest to each of points (Q, 3) -> (Q,); points outside the box clamp."""
    lo, hi = box_corners(bbox)
    res = np.asarray(grid.shape)
    idx = np.rint((np.asarray(points) - lo) / (hi - lo) * (res - 1)).astype(np.int64)
    idx = np.clip(idx, 0, res - 1)
    return grid[idx[:, 0], idx[:, 1], idx[:, 2]]


@torch.inference_mode()
def evaluate_geometry(run: LoadedRun, mesh: trimesh.Trimesh, threshold: float, tau: float,
                      samples: int = 100_000, seed: int = 0, volume: np.ndarray | None = None,
                      volume_bbox: Tensor | None = None) -> dict:
    """Chamfer-L1, F-score at ``tau`` (scene units) and volumetric IoU against the scene's
    ground truth (``data.root/mesh.ply``).

    Surfaces: ``samples`` area-uniform points on each mesh. IoU: ``samples`` uniform points in
    the data box; predicted occupancy ("iou") is the solid {sigma > threshold} of the mesh's
    density grid ``volume`` over ``volume_bbox`` with hollow interiors filled (a NeRF only needs
    an opaque shell, and the density inside one is never supervised), at the nearest grid
    point; "iou_density" uses sigma(x) > threshold itself, as does "iou" without a volume;
    ground-truth occupancy is the analytic primitives' SDF < 0 when the scene folder
    has the generator's ``scene.toml``, else the winding number of mesh.ply > 0.5 (robust to the
    generator's union mesh, which is not watertight where primitives touch). An empty mesh
    (no density reaches ``threshold``) has no Chamfer distance (None), F-score 0 and its IoU.
    """
    root = Path(run.cfg.data.root)
    gt_path = root / "mesh.ply"
    if not gt_path.is_file():
        raise NerfspecError(f"{gt_path}: no ground-truth mesh for --eval (generated scenes have one)")
    try:
        gt = trimesh.load(gt_path, force="mesh", process=False)
    except Exception as exc:
        raise NerfspecError(f"{gt_path}: cannot read the ground-truth mesh ({type(exc).__name__})") from None
    if len(mesh.faces):
        pred_pts = np.asarray(trimesh.sample.sample_surface(mesh, samples, seed=seed)[0])
        gt_pts = np.asarray(trimesh.sample.sample_surface(gt, samples, seed=seed + 1)[0])
        f, precision, recall = geometry.fscore(pred_pts, gt_pts, tau)
        chamfer = geometry.chamfer_l1(pred_pts, gt_pts)
    else:  # no surface at this threshold (e.g. a field too blurred to reach it): no distance
        f, precision, recall, chamfer = 0.0, None, 0.0, None

    box = torch.as_tensor(run.cfg.data.aabb, dtype=torch.float32)
    gen = torch.Generator().manual_seed(seed)
    x = box[:3] + torch.rand(samples, 3, generator=gen) * (box[3:] - box[:3])
    sigma = torch.cat([run.field.density(c.to(run.device)).float().cpu() for c in x.split(65536)])
    density_occ = (sigma > threshold).numpy()
    pred_occ = density_occ
    if volume is not None:
        solid = geometry.fill_cavities(volume > threshold)
        pred_occ = grid_lookup(solid, volume_bbox, x.numpy()) & _inside_box(x.numpy(), volume_bbox)
    scene_toml = root / "scene.toml"
    if scene_toml.is_file():
        from nerfspec.data import raycast
        from nerfspec.data.scenes import load_scene_description

        gt_occ = geometry.analytic_inside(raycast.build_shapes(load_scene_description(scene_toml)), x.numpy())
        gt_source = "analytic scene.toml primitives (sdf < 0)"
    else:
        gt_occ = geometry.winding_number(x.numpy(), gt.vertices, gt.faces) > 0.5
        gt_source = "winding number of mesh.ply > 0.5"
    return {
        "chamfer_l1": chamfer,
        "fscore": f, "precision": precision, "recall": recall, "fscore_tau": tau,
        "iou": geometry.volume_iou(pred_occ, gt_occ),
        "iou_density": geometry.volume_iou(density_occ, gt_occ),
        "surface_samples": samples, "iou_samples": samples,
        "iou_occupancy_pred": (f"density > {threshold} on the mesh grid, cavities filled" if volume is not None
                               else f"density > {threshold}"), "iou_occupancy_gt": gt_source,
        "ground_truth": str(gt_path), "units": "scene units",
    }


def _inside_box(points: np.ndarray, bbox: Tensor) -> np.ndarray:
    lo, hi = box_corners(bbox)
    return np.all((points >= lo) & (points <= hi), axis=1)


def write_mesh(mesh: trimesh.Trimesh, path: Path, fmt: str) -> Path:
    """Export through trimesh, written atomically."""
    data = mesh.export(file_type=fmt)
    atomic_write_bytes(path, data if isinstance(data, bytes) else data.encode())
    return path


def write_metrics(path: Path, metrics: dict) -> None:
    atomic_write_bytes(path, (json.dumps(metrics, indent=2) + "\n").encode())
