"""Mesh cleaning: drop the faces in space that no training view constrains, then the small
floating pieces.

Rules, applied in this order, each to the faces the rules before it kept (a face is judged by
its centroid):

* ``frustum``: outside the frustum of every training view (no camera looked there);
* ``silhouette``: besides, inside some view's frustum on a background pixel of that view's
  silhouette (alpha = 0), dilated by ``dilation`` pixels so that surfaces on the outline stay:
  the view saw through that point, so it holds no matter (the visual hull's carving). Images
  without transparent pixels (opaque photos) carve nothing;
* ``depth``: besides, behind the first surface of every view that has it in its frustum: each
  view's depth map rendered from the field (``nerfspec.export.tsdf.render_depth_maps``) shows a
  surface nearer than the face by more than ``depth_margin`` (the rule of
  ``visibility.seen_in_depth_maps``), so no training view saw it: the inside of solids, and
  the underside that the field closes somewhere below an object no camera looked under;
* components: connected pieces (faces sharing an edge) with fewer than ``min_component`` times
  the faces left after the rules above are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import trimesh

from nerfspec.cameras import Cameras
from nerfspec.export import visibility
from nerfspec.render.carving import dilate_masks

CULL_RULES = ("depth", "silhouette", "frustum", "none")  # each includes the rules after it


@dataclass
class CleanSpec:
    cull: str = "silhouette"  # depth | silhouette | frustum | none (see the module docstring)
    min_component: float = 0.0  # keep components with at least this share of the faces (0: all)
    dilation: int = 1  # silhouette dilation, pixels
    depth_margin: float = 0.02  # depth rule: how far behind the rendered surface a face still counts as seen
    depth_spread: int = 1  # depth rule: the rendered depth is the largest over (2 spread + 1)^2 pixels


def component_labels(mesh: trimesh.Trimesh) -> np.ndarray:
    """Connected-component label of each face (faces sharing an edge connect) -> (F,) int."""
    if len(mesh.faces) == 0:
        return np.zeros(0, dtype=np.int64)
    return trimesh.graph.connected_component_labels(mesh.face_adjacency, node_count=len(mesh.faces))


def count_components(mesh: trimesh.Trimesh) -> int:
    labels = component_labels(mesh)
    return int(labels.max() + 1) if len(labels) else 0


def carved_by_silhouettes(points: np.ndarray, cameras: Cameras, alpha: torch.Tensor,
                          dilation: int = 1) -> np.ndarray:
    """(Q,) bool: some view has the point in its frustum and sees it on a background pixel
    (alpha (N, H, W) uint8 = 0 after the silhouette {alpha > 0} is dilated by ``dilation``)."""
    carved = np.zeros(len(points), dtype=bool)
    for k in range(len(cameras)):
        background = ~dilate_masks((alpha[k] > 0)[None], dilation)[0].numpy()
        if not background.any():
            continue
        rest = np.nonzero(~carved)[0]
        i, j, ok = visibility.project_into(points[rest], cameras, k)
        ii = np.clip(np.rint(i[ok]).astype(np.int64), 0, cameras.width - 1)
        jj = np.clip(np.rint(j[ok]).astype(np.int64), 0, cameras.height - 1)
        carved[rest[ok][background[jj, ii]]] = True
    return carved


def keep_faces(mesh: trimesh.Trimesh, keep: np.ndarray) -> trimesh.Trimesh:
    """A copy of ``mesh`` with the faces where ``keep`` (F,) is True, unused vertices removed."""
    out = mesh.copy()
    out.update_faces(np.asarray(keep, dtype=bool))
    out.remove_unreferenced_vertices()
    return out


def filter_components(mesh: trimesh.Trimesh, keep_largest: bool = False, min_faces: int = 0,
                      min_fraction: float = 0.0) -> trimesh.Trimesh:
    """Drop small floating pieces: keep only the largest component (by face count) and/or the
    components with at least ``min_faces`` faces and ``min_fraction`` of all faces."""
    labels = component_labels(mesh)
    if len(labels) == 0 or (not keep_largest and min_faces <= 0 and min_fraction <= 0):
        return mesh
    counts = np.bincount(labels)
    keep = (counts >= min_faces) & (counts >= min_fraction * len(labels))
    if keep_largest:
        keep = np.zeros_like(keep)
        keep[np.argmax(counts)] = True
    return keep_faces(mesh, keep[labels])


def clean_mesh(mesh: trimesh.Trimesh, spec: CleanSpec, cameras: Cameras | None,
               alpha: torch.Tensor | None = None, depths: torch.Tensor | None = None
               ) -> tuple[trimesh.Trimesh, dict]:
    """The mesh after the rules of ``spec`` (module docstring) and a report: faces before and
    after, faces removed by each rule, components before and after. ``cameras`` (with ``alpha``
    (N, H, W) uint8 for the silhouette rule, ``depths`` (N, H, W) rendered distances along the
    unit rays, inf on background, for the depth rule) are the training views'."""
    if spec.cull not in CULL_RULES:
        raise ValueError(f"cull must be one of {', '.join(CULL_RULES)}, got {spec.cull!r}")
    if spec.cull == "depth" and depths is None:
        raise ValueError("the depth rule needs the training views' rendered depth maps")
    report = {"cull": spec.cull, "min_component": spec.min_component, "faces_before": len(mesh.faces),
              "components_before": count_components(mesh), "removed_outside_frusta": 0,
              "removed_by_silhouettes": 0, "removed_behind_depth": 0, "removed_small_components": 0}
    if spec.cull == "depth":
        report["depth_margin"] = spec.depth_margin
    if spec.cull != "none" and len(mesh.faces) and cameras is not None:
        centroids = np.asarray(mesh.triangles_center)
        keep = visibility.in_any_frustum(centroids, cameras)
        report["removed_outside_frusta"] = int((~keep).sum())
        if spec.cull in ("silhouette", "depth") and alpha is not None:
            rest = np.nonzero(keep)[0]
            carved = carved_by_silhouettes(centroids[rest], cameras, alpha, spec.dilation)
            keep[rest[carved]] = False
            report["removed_by_silhouettes"] = int(carved.sum())
        if spec.cull == "depth":
            rest = np.nonzero(keep)[0]
            hidden = ~visibility.seen_in_depth_maps(centroids[rest], cameras, depths, spec.depth_margin,
                                                    spec.depth_spread)
            keep[rest[hidden]] = False
            report["removed_behind_depth"] = int(hidden.sum())
        if not keep.all():
            mesh = keep_faces(mesh, keep)
    if spec.min_component > 0 and len(mesh.faces):
        before = len(mesh.faces)
        mesh = filter_components(mesh, min_fraction=spec.min_component)
        report["removed_small_components"] = before - len(mesh.faces)
    report.update(faces_after=len(mesh.faces), components_after=count_components(mesh))
    return mesh, report
