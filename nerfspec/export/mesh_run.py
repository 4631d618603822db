"""Meshing a trained run: extract its surface (``nerfspec.export.mesh``), write the mesh file,
and gather the facts of its ``metrics.json`` (what ``nerfspec report`` and ``mesh_summary`` read
back), scored against the scene's ground truth on request."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import trimesh

from nerfspec.config import DataConfig
from nerfspec.data.dataset import load_split
from nerfspec.export import mesh as meshing
from nerfspec.export.cleaning import CleanSpec, count_components
from nerfspec.models import LoadedRun
from nerfspec.run_layout import mesh_path


@dataclass
class MeshedRun:
    """A run's written mesh: the mesh, its file, its metrics (metrics.json's content), the
    extraction's timings (with the grid volume when kept for scoring) and the training views
    (when extraction, cleaning or scoring needed them)."""

    mesh: trimesh.Trimesh
    path: Path
    metrics: dict
    timings: dict
    views: object | None


def voxel_size(box, resolution: int) -> float:
    """Edge of a grid cell: the box's longest side over ``resolution - 1`` (grid points span the
    box's corners)."""
    b = meshing.check_bbox(box)
    return float((b[3:] - b[:3]).max()) / (resolution - 1)


def mesh_run(run: LoadedRun, data: DataConfig, ex: meshing.Extraction, clean: CleanSpec, fmt: str,
             out: Path | None = None, bbox=None, keep_largest: bool = False, min_component_faces: int = 0,
             colours: bool = True, chunk: int = 65536, chunk_rays: int = 8192,
             keep_volume: bool = False) -> MeshedRun:
    """Extract the mesh of a run of the dataset ``data`` (with a progress bar), write it as
    ``fmt`` to ``out`` (default RUN_DIR/mesh/mesh.<fmt>) and return it with its metrics: method,
    threshold, resolution, voxel, file, vertices, faces, components, watertight, cleaning
    report, extraction seconds, the checkpoint's step, and for tsdf its truncation and surface
    opacity. ``chunk`` points per density query, ``chunk_rays`` rays per rendered chunk (tsdf);
    ``keep_volume`` keeps the grid and the training views for ``score_mesh``."""
    out = out or mesh_path(run.run_dir, fmt)
    needs_views = ex.method == "tsdf" or clean.cull != "none" or keep_volume
    views = load_split(data, "train") if needs_views else None
    t0 = time.perf_counter()
    mesh, timings = meshing.extract_mesh(run, bbox=bbox, keep_largest=keep_largest,
                                         min_component_faces=min_component_faces, colours=colours,
                                         chunk=chunk, progress=True, keep_volume=keep_volume, extraction=ex,
                                         clean=clean, views=views, chunk_rays=chunk_rays)
    seconds = time.perf_counter() - t0
    meshing.write_mesh(mesh, out, fmt)
    metrics = {"method": ex.method, "threshold": ex.threshold, "resolution": ex.resolution,
               "voxel": voxel_size(data.aabb if bbox is None else bbox, ex.resolution),
               "mesh": str(out), "vertices": len(mesh.vertices), "faces": len(mesh.faces),
               "components": count_components(mesh), "watertight": bool(mesh.is_watertight),
               "cleaning": timings["cleaning"], "extraction_s": seconds, "step": run.step}
    if ex.method == "tsdf":
        metrics.update(tsdf_trunc_voxels=ex.tsdf_trunc, tsdf_min_opacity=ex.tsdf_min_opacity)
    return MeshedRun(mesh, out, metrics, timings, views)


def score_mesh(run: LoadedRun, data: DataConfig, meshed: MeshedRun, tau: float, samples: int) -> None:
    """Add the ground-truth comparison (``mesh_eval.evaluate_geometry``: Chamfer-L1, F-score at
    ``tau``, IoU, and the same on the surface the training cameras see) to ``meshed.metrics``;
    the mesh must have been made with ``keep_volume``."""
    from nerfspec.export.mesh_eval import evaluate_geometry

    t = meshed.timings
    meshed.metrics.update(evaluate_geometry(run, data, meshed.mesh, meshed.metrics["threshold"], tau, samples,
                                            volume=t["volume"], volume_bbox=t["bbox"],
                                            cameras=meshed.views.cameras, volume_level=t["volume_level"]))
