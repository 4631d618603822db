"""Which points some training camera sees: the frustum test and, where the true surface is
known, the occlusion test by ray casting it.

A point x is in view k's frustum when it projects in front of the camera onto the image,
-1/2 <= i <= W - 1/2 and -1/2 <= j <= H - 1/2 (pixel centres at integers). It is *seen* by
view k when, besides, the first surface that the ray from the camera centre c_k towards x meets
lies no nearer than |x - c_k| - tol: nothing stands in front of it. A point on the surface
that some camera sees is seen; a point behind a surface, inside a solid, or where no camera
looks is not. The same rule applies to ground-truth and predicted points, so that a score
restricted to seen points compares the parts of both surfaces the training views constrain.

Where the true surface is not known (mesh cleaning), the first surface along each pixel's ray
is the one the field renders: ``seen_in_depth_maps`` takes it from depth maps D_k (the
expected distance along the pixel's unit ray), the largest over the pixels next to x's pixel,
so that a point on a depth edge counts as seen by the farther side.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from nerfspec.cameras import Cameras

# first_hit(origin (3,), unit directions (M, 3)) -> distance to the first surface (M,), inf for a miss
FirstHit = Callable[[np.ndarray, np.ndarray], np.ndarray]


def project_into(points: np.ndarray, cameras: Cameras, view: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, in_frustum) of points (Q, 3) in view ``view``: fractional pixel column and row
    (Q,) and whether the point is in front of the camera and on the image (Q,) bool."""
    i, j, depth = cameras.project(torch.as_tensor(np.asarray(points), dtype=torch.float32), view)
    i, j, depth = i.numpy(), j.numpy(), depth.numpy()
    w, h = cameras.width, cameras.height
    ok = (depth > 1e-6) & (i >= -0.5) & (i <= w - 0.5) & (j >= -0.5) & (j <= h - 0.5)
    return i, j, ok


def in_any_frustum(points: np.ndarray, cameras: Cameras) -> np.ndarray:
    """(Q,) bool: the point lies in the frustum of at least one of the views."""
    inside = np.zeros(len(points), dtype=bool)
    for k in range(len(cameras)):
        rest = np.nonzero(~inside)[0]
        if rest.size == 0:
            break
        inside[rest[project_into(points[rest], cameras, k)[2]]] = True
    return inside


def seen_points(points: np.ndarray, cameras: Cameras, first_hit: FirstHit, tol: float) -> np.ndarray:
    """(Q,) bool: some view sees the point, unoccluded within ``tol`` (module docstring).

    Views are tried in turn on the points no earlier view has seen, so the cost is about one
    ray per seen point plus one per view for each point that no view sees."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    seen = np.zeros(len(pts), dtype=bool)
    for k in range(len(cameras)):
        rest = np.nonzero(~seen)[0]
        if rest.size == 0:
            break
        rest = rest[project_into(pts[rest], cameras, k)[2]]
        if rest.size == 0:
            continue
        eye = cameras.c2w[k, :3, 3].double().numpy()
        rel = pts[rest] - eye
        dist = np.linalg.norm(rel, axis=1)
        t = first_hit(eye, rel / dist[:, None])
        seen[rest[t >= dist - tol]] = True
    return seen


def seen_in_depth_maps(points: np.ndarray, cameras: Cameras, depths: torch.Tensor, tol: float,
                       spread: int = 1, scale: int = 1) -> np.ndarray:
    """(Q,) bool: some view k has the point in its frustum and no farther from its centre c_k
    than the first surface it renders there: |x - c_k| <= max D_k + tol over the
    (2 spread + 1)^2 samples around x's nearest sample. depths (N, H scale, W scale): distance
    along each sample's unit ray (``scale`` samples per pixel and axis, at the positions of
    ``nerfspec.export.zbuffer``), inf where the view sees background (every point in front of
    it is seen)."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    far = torch.nn.functional.max_pool2d(depths.float()[:, None], 2 * spread + 1, stride=1,
                                         padding=spread)[:, 0].numpy() if spread > 0 else depths.numpy()
    seen = np.zeros(len(pts), dtype=bool)
    for k in range(len(cameras)):
        rest = np.nonzero(~seen)[0]
        if rest.size == 0:
            break
        i, j, ok = project_into(pts[rest], cameras, k)
        rest, i, j = rest[ok], i[ok], j[ok]
        ii = np.clip(np.floor((i + 0.5) * scale).astype(np.int64), 0, far.shape[2] - 1)
        jj = np.clip(np.floor((j + 0.5) * scale).astype(np.int64), 0, far.shape[1] - 1)
        dist = np.linalg.norm(pts[rest] - cameras.c2w[k, :3, 3].double().numpy(), axis=1)
        seen[rest[dist <= far[k, jj, ii] + tol]] = True
    return seen


def analytic_first_hit(shapes: list) -> FirstHit:
    """``first_hit`` over the analytic primitives of ``nerfspec.synth.raycast.build_shapes``."""
    from nerfspec.synth import raycast

    def first_hit(origin: np.ndarray, dirs: np.ndarray) -> np.ndarray:
        return raycast.nearest_hit(shapes, np.asarray(origin, dtype=np.float64).reshape(3, 1),
                                   np.ascontiguousarray(dirs.T))[0]

    return first_hit
