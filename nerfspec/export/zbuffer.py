"""What a camera sees of a triangle mesh: a z-buffer rasteriser (PyTorch, CPU or GPU).

The view's image is sampled ``scale`` times more finely than its pixels: sample (a, b) sits at
pixel coordinates i = (a + 1/2) / scale - 1/2, j = (b + 1/2) / scale - 1/2 (pixel centres at
integers, as ``Cameras.project`` counts them). Each triangle with its three corners in front
of the camera covers the samples inside its projection (screen-space barycentric coordinates
beta >= 0); at a covered sample the surface point is interpolated perspective-correctly,

    P = (sum_a beta_a P_a / z_a) / (sum_a beta_a / z_a)      (z_a: the corners' camera depths),

and the sample keeps the smallest distance |P - c| from the camera centre c over the triangles
covering it: the distance along the sample's ray to the first surface, inf where none.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from nerfspec.cameras import Cameras


def mesh_distance_map(vertices: Tensor, faces: Tensor, cameras: Cameras, view: int, scale: int = 1,
                      chunk: int = 1 << 21) -> Tensor:
    """(H scale, W scale) float32: distance from view ``view``'s centre to the first face of the
    mesh (vertices (V, 3) float, faces (F, 3) long) along each sample's ray (module docstring),
    inf where the ray meets none. ``chunk`` bounds the (face, sample) pairs held at once."""
    w, h = cameras.view_size(view)
    sw, sh = w * scale, h * scale
    verts = vertices.to(cameras.device, torch.float64)
    i, j, z = cameras.project(verts.float(), view)
    # sample-index coordinates: the samples sit at integers
    x = ((i.double() + 0.5) * scale - 0.5)[faces]
    y = ((j.double() + 0.5) * scale - 0.5)[faces]
    z = z.double()[faces]
    eye = cameras.c2w[view, :3, 3].double()
    front = (z > 1e-6).all(dim=1)
    x0 = x.min(dim=1).values.ceil().clamp(min=0)
    x1 = x.max(dim=1).values.floor().clamp(max=sw - 1)
    y0 = y.min(dim=1).values.ceil().clamp(min=0)
    y1 = y.max(dim=1).values.floor().clamp(max=sh - 1)
    nx = (x1 - x0 + 1).clamp(min=0).long()
    ny = (y1 - y0 + 1).clamp(min=0).long()
    count = torch.where(front, nx * ny, 0)
    best = torch.full((sh * sw,), float("inf"), dtype=torch.float64, device=cameras.device)
    tri = torch.nonzero(count > 0)[:, 0]
    ends = torch.cumsum(count[tri], 0)
    start = 0
    while start < len(tri):  # triangles in groups of at most ``chunk`` samples (one at least)
        stop = max(start + 1, int(torch.searchsorted(ends, int(ends[start - 1] if start else 0) + chunk)))
        _cover(best, tri[start:stop], count, nx, x0, y0, x, y, z, verts[faces[tri[start:stop]]], eye, sw)
        start = stop
    return best.reshape(sh, sw).float()


def _cover(best: Tensor, tri: Tensor, count: Tensor, nx: Tensor, x0: Tensor, y0: Tensor, x: Tensor,
           y: Tensor, z: Tensor, corners: Tensor, eye: Tensor, sw: int) -> None:
    """Write into ``best`` (flat samples) the distances of triangles ``tri`` at the samples of
    their bounding boxes that they cover (the smallest per sample)."""
    n = count[tri]
    owner = torch.repeat_interleave(torch.arange(len(tri), device=tri.device), n)
    first = torch.cumsum(n, 0) - n
    offset = torch.arange(len(owner), device=tri.device) - first[owner]
    t = tri[owner]
    px = x0[t] + offset % nx[t]
    py = y0[t] + torch.div(offset, nx[t], rounding_mode="floor")
    ax, ay, az = x[t].unbind(1), y[t].unbind(1), z[t].unbind(1)
    # edge functions: beta_a proportional to the signed area of the sample and the other two corners
    e0 = (ax[1] - px) * (ay[2] - py) - (ax[2] - px) * (ay[1] - py)
    e1 = (ax[2] - px) * (ay[0] - py) - (ax[0] - px) * (ay[2] - py)
    e2 = (ax[0] - px) * (ay[1] - py) - (ax[1] - px) * (ay[0] - py)
    area = e0 + e1 + e2
    sign = torch.sign(area)
    inside = (area.abs() > 1e-12) & (e0 * sign >= 0) & (e1 * sign >= 0) & (e2 * sign >= 0)
    if not bool(inside.any()):
        return
    b = torch.stack([e0, e1, e2], dim=1)[inside] / area[inside, None]
    wz = b / torch.stack(az, dim=1)[inside]  # beta_a / z_a
    p = (wz[:, :, None] * corners[owner[inside]]).sum(dim=1) / wz.sum(dim=1, keepdim=True)
    dist = (p - eye).norm(dim=1)
    flat = (py[inside] * sw + px[inside]).long()
    best.scatter_reduce_(0, flat, dist, reduce="amin")


def seen_unoccluded_by_mesh(points: np.ndarray, cameras: Cameras, vertices: np.ndarray, faces: np.ndarray,
                            tol: float, scale: int = 4) -> np.ndarray:
    """(Q,) bool: some view has the point (on or near the mesh) in its frustum and no farther
    than the mesh's first surface at its nearest sample plus ``tol``: the rule of
    ``visibility.seen_points`` with the mesh as the occluder, sampled ``scale`` times per pixel."""
    from nerfspec.export import visibility

    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    seen = np.zeros(len(pts), dtype=bool)
    if len(faces) == 0:
        return seen
    v = torch.as_tensor(np.asarray(vertices), dtype=torch.float64)
    f = torch.as_tensor(np.asarray(faces), dtype=torch.long)
    for k in range(len(cameras)):
        rest = np.nonzero(~seen)[0]
        if rest.size == 0:
            break
        dist_map = mesh_distance_map(v, f, cameras, k, scale)
        seen[rest[visibility.seen_in_depth_maps(pts[rest], cameras[k], dist_map[None], tol, 0, scale)]] = True
    return seen
