"""Shape targets for 3D occupancy: mesh loading and normalisation, inside tests, test points.

Following Tancik et al. (2020) and their occupancy set-up, a mesh is centred on its vertex
mean, scaled so that max |v| = 1 and mapped to v' = (v + 1) / 2, so it spans [0, 1] along its
longest extent; training points are drawn uniformly in its bounding box (grown by 1e-3) and
the test points are surface points (area-weighted) plus N(0, 0.01^2) noise per axis, where
the IoU measures fine detail.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh

from nerfspec.errors import NerfspecError

SURFACE_NOISE = 0.01  # std of the near-surface test points, normalised units
BOX_MARGIN = 1e-3


@dataclass
class ShapeTarget:
    """A normalised mesh: ``mesh`` in [0, 1]-units, ``lo``/``hi`` (3,) the sampling box, and
    ``centre``, ``scale`` with v_normalised = (v - centre) / scale * 0.5 + 0.5."""

    name: str
    mesh: trimesh.Trimesh
    lo: np.ndarray
    hi: np.ndarray
    centre: np.ndarray
    scale: float

    def to_original(self, points: np.ndarray) -> np.ndarray:
        """Normalised points (N, 3) back to the mesh file's units."""
        return (np.asarray(points) - 0.5) * 2.0 * self.scale + self.centre


def normalise_mesh(mesh: trimesh.Trimesh, name: str = "mesh") -> ShapeTarget:
    """Centre on the vertex mean, scale max |v| to 1, map to (v + 1) / 2 (Tancik et al.)."""
    verts = np.asarray(mesh.vertices, dtype=np.float64)
    centre = verts.mean(axis=0)
    scale = float(np.abs(verts - centre).max())
    if not scale > 0:
        raise NerfspecError(f"{name}: the mesh has no extent")
    unit = (verts - centre) / scale * 0.5 + 0.5
    m = trimesh.Trimesh(vertices=unit, faces=np.asarray(mesh.faces), process=False)
    return ShapeTarget(name, m, unit.min(axis=0) - BOX_MARGIN, unit.max(axis=0) + BOX_MARGIN, centre, scale)


def load_mesh(path: str | Path) -> ShapeTarget:
    """A triangle mesh file that trimesh reads (PLY, OBJ, STL, GLB, OFF ...), normalised.
    Scenes are concatenated; an unreadable or empty file is a one-line ``NerfspecError``."""
    p = Path(path)
    if not p.is_file():
        raise NerfspecError(f"{p}: no such mesh file")
    try:
        loaded = trimesh.load(p, force="mesh", process=False)
    except Exception as exc:  # trimesh raises many types for malformed files
        raise NerfspecError(f"{p}: cannot read the mesh ({type(exc).__name__}: {exc})") from None
    if not isinstance(loaded, trimesh.Trimesh) or len(loaded.faces) == 0:
        raise NerfspecError(f"{p}: no triangles in the file")
    name = p.parent.name if p.stem == "mesh" else p.stem  # OUT/mesh.ply of make-scene -> OUT
    return normalise_mesh(loaded, name)


def _parity_along(points: np.ndarray, tri: np.ndarray, axis: int, cells: int) -> np.ndarray:
    """Whether a ray from each point along +axis crosses the triangles an odd number of times.

    Triangles are bucketed on a ``cells`` x ``cells`` grid over the plane of the two other
    axes; each point tests the triangles of its bucket: point-in-triangle in that plane by
    edge functions, then whether the crossing lies ahead of the point.
    """
    u, w = [a for a in range(3) if a != axis]
    t2 = tri[:, :, [u, w]]  # (F, 3, 2)
    lo = np.minimum(t2.min(axis=(0, 1)), points[:, [u, w]].min(axis=0))
    hi = np.maximum(t2.max(axis=(0, 1)), points[:, [u, w]].max(axis=0))
    size = (hi - lo) / cells + 1e-12

    def cell(xy):
        return np.clip(((xy - lo) / size).astype(np.int64), 0, cells - 1)

    c0, c1 = cell(t2.min(axis=1)), cell(t2.max(axis=1))  # (F, 2) bucket ranges
    spans = (c1 - c0 + 1)
    counts = spans[:, 0] * spans[:, 1]
    tri_id = np.repeat(np.arange(len(tri)), counts)
    k = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    cu = c0[tri_id, 0] + k // spans[tri_id, 1]
    cw = c0[tri_id, 1] + k % spans[tri_id, 1]
    bucket = cu * cells + cw
    order = np.argsort(bucket, kind="stable")
    bucket, tri_id = bucket[order], tri_id[order]
    starts = np.searchsorted(bucket, np.arange(cells * cells))
    ends = np.searchsorted(bucket, np.arange(cells * cells), side="right")

    pc = cell(points[:, [u, w]])
    pb = pc[:, 0] * cells + pc[:, 1]
    n = ends[pb] - starts[pb]
    pair_pt = np.repeat(np.arange(len(points)), n)
    pair_k = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    pair_tri = tri_id[starts[pb][pair_pt] + pair_k]

    p = points[pair_pt]
    t = tri[pair_tri]  # (P, 3, 3)
    pu, pw = p[:, u], p[:, w]
    a, b, c = t[:, 0], t[:, 1], t[:, 2]

    def edge(p0, p1):
        return (p1[:, u] - p0[:, u]) * (pw - p0[:, w]) - (p1[:, w] - p0[:, w]) * (pu - p0[:, u])

    e0, e1, e2 = edge(a, b), edge(b, c), edge(c, a)
    inside = ((e0 > 0) & (e1 > 0) & (e2 > 0)) | ((e0 < 0) & (e1 < 0) & (e2 < 0))
    area = e0 + e1 + e2
    with np.errstate(invalid="ignore", divide="ignore"):
        # barycentric weights of a, b, c are e1, e2, e0 over the total
        hit = (e1 * a[:, axis] + e2 * b[:, axis] + e0 * c[:, axis]) / area
    ahead = inside & (hit > p[:, axis])
    crossings = np.bincount(pair_pt[ahead], minlength=len(points))
    return crossings % 2 == 1


def inside_mesh(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray, cells: int = 64,
                chunk: int = 65536) -> np.ndarray:
    """Occupancy of points (N, 3) for a closed triangle mesh -> (N,) bool.

    Ray parity along +x, +y and +z with a majority vote, so a ray that grazes an edge or a
    small gap in a union of meshes is outvoted. Exact for watertight meshes up to rays through
    edges and vertices (measure zero for random points).
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    tri = np.asarray(vertices, dtype=np.float64)[np.asarray(faces)]
    out = np.empty(len(pts), dtype=bool)
    for s in range(0, len(pts), chunk):
        p = pts[s:s + chunk]
        votes = sum(_parity_along(p, tri, axis, cells).astype(np.int8) for axis in range(3))
        out[s:s + chunk] = votes >= 2
    return out


def uniform_points(target: ShapeTarget, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 3) points uniform in the target's sampling box."""
    return target.lo + rng.random((n, 3)) * (target.hi - target.lo)


def surface_points(mesh: trimesh.Trimesh, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 3) points uniform on the surface: faces by area, uniform barycentric coordinates."""
    area = np.asarray(mesh.area_faces, dtype=np.float64)
    faces = rng.choice(len(area), size=n, p=area / area.sum())
    r1, r2 = rng.random(n), rng.random(n)
    s = np.sqrt(r1)
    bary = np.stack([1.0 - s, s * (1.0 - r2), s * r2], axis=1)
    tri = np.asarray(mesh.vertices)[np.asarray(mesh.faces)[faces]]
    return (bary[:, :, None] * tri).sum(axis=1)


def test_points(target: ShapeTarget, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Near-surface test points (surface + N(0, SURFACE_NOISE^2)) and their occupancy."""
    rng = np.random.default_rng(seed)
    pts = surface_points(target.mesh, n, rng) + rng.normal(scale=SURFACE_NOISE, size=(n, 3))
    return pts, inside_mesh(pts, target.mesh.vertices, target.mesh.faces)


def iou(pred: np.ndarray, truth: np.ndarray) -> float:
    """|pred & truth| / |pred | truth| of two boolean arrays (1 when both are empty)."""
    pred, truth = np.asarray(pred, bool), np.asarray(truth, bool)
    union = np.count_nonzero(pred | truth)
    return 1.0 if union == 0 else np.count_nonzero(pred & truth) / union
