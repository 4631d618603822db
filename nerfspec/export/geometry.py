"""Geometry metrics between a predicted and a ground-truth surface: pure NumPy functions.

All distances are in scene units. Surfaces are compared through point samples on them
(P predicted points, G ground-truth points), volumes through occupancy at random points.

* nearest distance  d(p, G) = min_g |p - g|
* Chamfer-L1        CD = 0.5 (mean_p d(p, G) + mean_g d(g, P))
* F-score at tau    precision = mean_p [d(p, G) < tau], recall = mean_g [d(g, P) < tau],
                    F = 2 precision recall / (precision + recall)
* volumetric IoU    |A and B| / |A or B| over occupancy samples
* solid occupancy   a voxel set plus its cavities: the empty voxels that no 6-connected
                    path of empty voxels links to the grid's border
"""

from __future__ import annotations

import numpy as np


def nearest_distances(queries: np.ndarray, points: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """d(q, P) = min_p |q - p| for queries (Q, 3) against points (P, 3) -> (Q,) float64.

    Uses scipy's cKDTree (O((Q + P) log P)) when scipy imports, else exact brute force with
    ``torch.cdist`` over chunks of ``chunk`` queries.
    """
    queries = np.asarray(queries, dtype=np.float64).reshape(-1, 3)
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if len(points) == 0:
        raise ValueError("nearest_distances needs at least one point")
    try:
        from scipy.spatial import cKDTree
    except ImportError:  # pragma: no cover - scipy comes with the marching-cubes package
        import torch

        p = torch.from_numpy(points)
        return np.concatenate([torch.cdist(torch.from_numpy(q), p).amin(dim=1).numpy()
                               for q in np.array_split(queries, max(1, -(-len(queries) // chunk)))])
    return cKDTree(points).query(queries, k=1)[0]


def chamfer_l1(pred: np.ndarray, gt: np.ndarray) -> float:
    """Symmetric Chamfer-L1 distance 0.5 (mean_p d(p, G) + mean_g d(g, P)) of point sets
    pred (P, 3) and gt (G, 3). Two concentric spheres of radii r1 < r2 give r2 - r1."""
    return chamfer_from_distances(nearest_distances(pred, gt), nearest_distances(gt, pred))


def fscore(pred: np.ndarray, gt: np.ndarray, tau: float) -> tuple[float, float, float]:
    """(F, precision, recall) at distance ``tau`` for point sets pred (P, 3) and gt (G, 3):
    precision = share of pred within tau of gt, recall = share of gt within tau of pred,
    F = 2 P R / (P + R) (0 when both are 0)."""
    return fscore_from_distances(nearest_distances(pred, gt), nearest_distances(gt, pred), tau)


def chamfer_from_distances(d_pred: np.ndarray, d_gt: np.ndarray) -> float:
    """0.5 (mean d_pred + mean d_gt) of nearest distances d_pred = d(p, G) (P,), d_gt = d(g, P)
    (G,); a subset of either (e.g. the points a camera sees) gives the Chamfer of that subset."""
    return 0.5 * (float(np.mean(d_pred)) + float(np.mean(d_gt)))


def fscore_from_distances(d_pred: np.ndarray, d_gt: np.ndarray, tau: float) -> tuple[float, float, float]:
    """(F, precision, recall) at ``tau`` of nearest distances d_pred = d(p, G) (P,) and
    d_gt = d(g, P) (G,): precision = mean [d_pred < tau], recall = mean [d_gt < tau]."""
    precision = float((np.asarray(d_pred) < tau).mean())
    recall = float((np.asarray(d_gt) < tau).mean())
    f = 2.0 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return f, precision, recall


def volume_iou(occ_a: np.ndarray, occ_b: np.ndarray) -> float:
    """|A and B| / |A or B| of two boolean occupancy arrays of the same shape (1.0 when both
    are empty). For uniform samples in a box this estimates the volumetric IoU."""
    a, b = np.asarray(occ_a, dtype=bool), np.asarray(occ_b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"occupancy shapes differ: {a.shape} vs {b.shape}")
    union = np.count_nonzero(a | b)
    return 1.0 if union == 0 else np.count_nonzero(a & b) / union


def _shifted_or(mask: np.ndarray) -> np.ndarray:
    """mask OR its 6 face neighbours (no wrap-around at the borders)."""
    out = mask.copy()
    for axis in range(3):
        for lo, hi in ((slice(1, None), slice(None, -1)), (slice(None, -1), slice(1, None))):
            dst = [slice(None)] * 3
            src = [slice(None)] * 3
            dst[axis], src[axis] = lo, hi
            out[tuple(dst)] |= mask[tuple(src)]
    return out


def fill_cavities(inside: np.ndarray, max_iterations: int | None = None) -> np.ndarray:
    """Solid occupancy of a boolean voxel grid (X, Y, Z): ``inside`` plus every empty voxel
    not 6-connected through empty voxels to the grid's border (hollow interiors filled).

    The outside starts as the empty voxels that see a border along a grid axis (an axis ray
    through empty voxels only) and grows through empty face neighbours until it stops
    changing, which takes few steps unless empty space winds through narrow pockets.
    """
    inside = np.asarray(inside, dtype=bool)
    empty = ~inside
    outside = np.zeros_like(empty)
    for axis in range(3):
        for flip in (False, True):
            e = np.flip(empty, axis) if flip else empty
            seen = np.logical_and.accumulate(e, axis=axis)
            outside |= np.flip(seen, axis) if flip else seen
    for _ in range(max_iterations or 4 * sum(inside.shape)):
        grown = _shifted_or(outside) & empty
        if np.array_equal(grown, outside):
            break
        outside = grown
    return ~outside


def winding_number(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray,
                   pairs_per_chunk: int = 1 << 20) -> np.ndarray:
    """Generalised winding number w(q) = sum_f Omega_f(q) / (4 pi) of points (Q, 3) with
    respect to a triangle mesh (vertices (V, 3), faces (F, 3)) -> (Q,).

    Omega_f is the signed solid angle of triangle (a, b, c) seen from q (Van Oosterom and
    Strackee): tan(Omega / 2) = a.(b x c) / (|a||b||c| + (a.b)|c| + (b.c)|a| + (c.a)|b|) with
    a, b, c relative to q. w is ~1 inside and ~0 outside a closed, outward-oriented surface,
    and degrades gracefully for meshes with holes or dropped faces (threshold it at 0.5).
    Cost O(Q F); memory bounded by ``pairs_per_chunk`` point-triangle pairs at a time.
    """
    q = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    tri = np.asarray(vertices, dtype=np.float64)[np.asarray(faces)]  # (F, 3, 3)
    out = np.empty(len(q))
    chunk = max(1, pairs_per_chunk // max(len(tri), 1))  # bounded memory: chunk x F pairs
    for lo in range(0, len(q), chunk):
        rel = tri[None, :, :, :] - q[lo:lo + chunk, None, None, :]  # (C, F, 3, 3)
        a, b, c = rel[:, :, 0], rel[:, :, 1], rel[:, :, 2]
        la, lb, lc = (np.linalg.norm(v, axis=-1) for v in (a, b, c))
        det = np.einsum("cfi,cfi->cf", a, np.cross(b, c))
        den = (la * lb * lc + np.einsum("cfi,cfi->cf", a, b) * lc
               + np.einsum("cfi,cfi->cf", b, c) * la + np.einsum("cfi,cfi->cf", c, a) * lb)
        out[lo:lo + chunk] = 2.0 * np.arctan2(det, den).sum(axis=1) / (4.0 * np.pi)
    return out


def analytic_inside(shapes: list, points: np.ndarray) -> np.ndarray:
    """Whether points (Q, 3) lie inside the union of analytic primitives -> (Q,) bool:
    min_k sdf_k(R_k^T (q - c_k)) < 0, with ``shapes`` from ``nerfspec.synth.raycast.build_shapes``."""
    p = np.ascontiguousarray(np.asarray(points, dtype=np.float64).reshape(-1, 3).T)  # (3, Q)
    inside = np.zeros(p.shape[1], dtype=bool)
    for shape in shapes:
        inside |= shape.sdf(shape.to_local(p)) < 0.0
    return inside
