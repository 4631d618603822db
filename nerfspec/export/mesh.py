"""Mesh export: a grid over the box -> marching cubes (PyMCubes) -> cleaning -> coloured
triangle mesh.

The grid has ``resolution`` points per axis spanning the box corners, x_ijk = lo + (i, j, k) h
with h = (hi - lo) / (resolution - 1). It holds the density (method "density": only points in
(dilated) cells that the run's occupancy grid marks occupied are queried; the others are taken
as empty, density 0) or the fused distance of rendered depth maps (method "tsdf",
``nerfspec.export.tsdf``). The volume is padded with one layer of empty values so that surfaces
cut by the box close (watertight meshes). Cleaning (``nerfspec.export.cleaning``) then drops
faces where no training view constrains the field, and small floating pieces.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import trimesh
from torch import Tensor, nn
from tqdm import tqdm

from nerfspec.cameras import Cameras
from nerfspec.errors import NerfspecError
from nerfspec.export.cleaning import CleanSpec, clean_mesh, filter_components
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


METHODS = ("density", "tsdf")


@dataclass
class Extraction:
    """How ``extract_mesh`` builds the surface: ``method`` density (marching cubes on
    {sigma = threshold}) or tsdf (fusion of rendered depth maps, ``nerfspec.export.tsdf``, with
    truncation ``tsdf_trunc`` voxels and pixels of opacity >= ``tsdf_min_opacity`` as surface)."""

    method: str = "density"
    resolution: int = 256
    threshold: float = DEFAULT_THRESHOLD
    use_occupancy: bool = True  # density: query only (dilated) occupied cells
    tsdf_trunc: float = 4.0
    tsdf_min_opacity: float = 0.5


def check_extraction(ex: Extraction) -> None:
    if ex.method not in METHODS:
        raise NerfspecError(f"mesh method must be one of {', '.join(METHODS)}, got {ex.method!r}")
    if ex.resolution < 2:
        raise NerfspecError(f"mesh resolution must be >= 2, got {ex.resolution}")
    if not ex.threshold > 0:
        raise NerfspecError(f"density threshold must be > 0, got {ex.threshold}")
    if not ex.tsdf_trunc > 0:
        raise NerfspecError(f"TSDF truncation must be > 0 voxels, got {ex.tsdf_trunc}")
    if not 0 < ex.tsdf_min_opacity <= 1:
        raise NerfspecError(f"TSDF surface opacity must be in (0, 1], got {ex.tsdf_min_opacity}")


def grid_box(estimator: nn.Module) -> Tensor:
    """The occupancy grid's box (6,) on the CPU: the run's data.aabb, as the grid was built on it."""
    return estimator.aabb.detach().float().cpu()


def _density_volume(run: LoadedRun, ex: Extraction, box: Tensor, axes: list[Tensor], chunk: int,
                    progress: bool) -> tuple[np.ndarray, int]:
    mask = None
    binary = occupancy_binary(run.estimator) if ex.use_occupancy else None
    if binary is not None and not bool(binary.all()):
        mask = query_mask(axes, dilate(binary, 1), grid_box(run.estimator))
    return density_grid(run.field.density, axes, mask, chunk, run.device, progress)


def _depth_maps(run: LoadedRun, ex: Extraction, cameras: Cameras, chunk_rays: int, progress: bool) -> Tensor:
    from nerfspec.export import tsdf

    return tsdf.render_depth_maps(run.field, run.estimator, cameras.to(run.device), ex.tsdf_min_opacity,
                                  chunk_rays, progress)


def _tsdf_volume(depths: Tensor, ex: Extraction, box: Tensor, axes: list[Tensor], cameras: Cameras,
                 progress: bool) -> tuple[np.ndarray, int]:
    from nerfspec.export import tsdf

    voxel = float((box[3:] - box[:3]).max()) / (ex.resolution - 1)
    fused = tsdf.fuse_tsdf(depths, cameras, axes, ex.tsdf_trunc * voxel, progress)
    return 1.0 - fused, int(depths.numel())


def extract_mesh(run: LoadedRun, resolution: int = 256, threshold: float = DEFAULT_THRESHOLD,
                 bbox=None, keep_largest: bool = False, min_component_faces: int = 0,
                 use_occupancy: bool = True, colours: bool = True, chunk: int = 65536,
                 progress: bool = False, keep_volume: bool = False, extraction: Extraction | None = None,
                 clean: CleanSpec | None = None, views=None,
                 chunk_rays: int = 8192) -> tuple[trimesh.Trimesh, dict]:
    """The run's surface as a (vertex-coloured) mesh, and timings (with ``keep_volume``, also
    the grid "volume" (R, R, R) the surface is the level "volume_level" of, and its "bbox" (6,)).

    ``bbox`` defaults to the occupancy grid's box (the run's data.aabb). ``extraction``
    (default: density at ``resolution`` and ``threshold``) picks the extractor; ``clean`` the
    cleaning rules (``nerfspec.export.cleaning``; their report is "cleaning"). ``views`` (the
    training split: cameras and images) is needed by tsdf and by cleaning; tsdf and the depth
    rule share one set of depth maps rendered from its cameras ``chunk_rays`` rays at a time
    (pixels of opacity >= ``extraction.tsdf_min_opacity`` have a surface)."""
    ex = extraction or Extraction("density", resolution, threshold, use_occupancy)
    check_extraction(ex)
    box = check_bbox(grid_box(run.estimator) if bbox is None else bbox)
    if (ex.method == "tsdf" or (clean is not None and clean.cull != "none")) and views is None:
        raise NerfspecError("tsdf extraction and frustum, silhouette or depth cleaning need the training views")
    t0 = time.perf_counter()
    axes = grid_axes(box, ex.resolution)
    depths = None
    if ex.method == "tsdf" or (clean is not None and clean.cull == "depth"):
        depths = _depth_maps(run, ex, views.cameras, chunk_rays, progress)
    t_depth = time.perf_counter() - t0
    if ex.method == "tsdf":
        volume, queries = _tsdf_volume(depths, ex, box, axes, views.cameras, progress)
        level = 1.0
    else:
        volume, queries = _density_volume(run, ex, box, axes, chunk, progress)
        level = ex.threshold
    t1 = time.perf_counter()
    mesh = marching_cubes(volume, box, level)
    mesh = filter_components(mesh, keep_largest, min_component_faces)
    report = None
    if clean is not None:
        alpha = views.images[..., 3] if views is not None else None
        mesh, report = clean_mesh(mesh, clean, views.cameras if views is not None else None, alpha,
                                  None if depths is None else depths.cpu())
    t2 = time.perf_counter()
    if colours and len(mesh.vertices):
        h = float((box[3:] - box[:3]).max()) / (ex.resolution - 1)
        mesh.visual.vertex_colors = vertex_colours(run.field, mesh.vertices, mesh.vertex_normals, 0.5 * h, chunk)
    t3 = time.perf_counter()
    timings = {"depth_maps_s": t_depth, "density_s": t1 - t0 - t_depth, "marching_cubes_s": t2 - t1,
               "colours_s": t3 - t2, "total_s": t3 - t0, "queries": queries, "grid_points": ex.resolution ** 3,
               "method": ex.method, "cleaning": report}
    if keep_volume:
        timings.update(volume=volume, bbox=box, volume_level=level)
    return mesh, timings


def write_mesh(mesh: trimesh.Trimesh, path: Path, fmt: str) -> Path:
    """Export through trimesh, written atomically."""
    data = mesh.export(file_type=fmt)
    atomic_write_bytes(path, data if isinstance(data, bytes) else data.encode())
    return path


def write_metrics(path: Path, metrics: dict) -> None:
    atomic_write_bytes(path, (json.dumps(metrics, indent=2) + "\n").encode())
