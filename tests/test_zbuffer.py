"""The mesh z-buffer (nerfspec.export.zbuffer) against closed-form ray casts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh

from nerfspec.cameras import Cameras, look_at
from nerfspec.export import zbuffer

SIZE = 24


def cameras(*eyes) -> Cameras:
    c2w = torch.stack([look_at(torch.tensor(e, dtype=torch.float64)).float() for e in eyes])
    return Cameras.pinhole(c2w, SIZE, SIZE, 30.0)


def sample_rays(cams: Cameras, view: int, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """Origins and unit directions (S, 3) through the samples of the module's rule, row-major."""
    a = (torch.arange(SIZE * scale, dtype=torch.float64) + 0.5) / scale - 0.5
    j, i = torch.meshgrid(a, a, indexing="ij")
    o, d = cams.rays(torch.full((i.numel(),), view), i.reshape(-1), j.reshape(-1))
    return o.double().numpy(), d.double().numpy()


# a square tilted 60 degrees about x through the origin, 1.6 across: two large triangles
NORMAL = np.array([0.0, -np.sin(np.pi / 3), np.cos(np.pi / 3)])
U, V = np.array([1.0, 0.0, 0.0]), np.cross(NORMAL, [1.0, 0.0, 0.0])
SQUARE = trimesh.Trimesh(vertices=[0.8 * (su * U + sv * V) for su, sv in ((-1, -1), (1, -1), (1, 1), (-1, 1))],
                         faces=[[0, 1, 2], [0, 2, 3]], process=False)


@pytest.mark.parametrize("scale", [1, 3])
def test_distances_to_a_tilted_square_are_the_ray_plane_distances(scale):
    cams = cameras((0.3, 0.2, 3.0))
    got = zbuffer.mesh_distance_map(torch.tensor(SQUARE.vertices), torch.tensor(SQUARE.faces), cams, 0, scale)
    assert got.shape == (SIZE * scale, SIZE * scale)
    o, d = sample_rays(cams, 0, scale)
    t = -(o @ NORMAL) / (d @ NORMAL)  # the plane n . x = 0
    hit = o + t[:, None] * d
    inside = (np.abs(hit @ U) < 0.8 - 1e-6) & (np.abs(hit @ V) < 0.8 - 1e-6)
    flat = got.reshape(-1).numpy()
    assert 0.1 < inside.mean() < 0.9
    np.testing.assert_allclose(flat[inside], t[inside], rtol=1e-5)
    outside = (np.abs(hit @ U) > 0.8 + 1e-6) | (np.abs(hit @ V) > 0.8 + 1e-6)
    assert np.isinf(flat[outside]).all()


def test_the_nearer_of_two_surfaces_wins_and_hides_the_farther():
    cams = cameras((0.0, 0.0, 4.0))
    near = trimesh.creation.box(extents=(0.6, 0.6, 0.1))
    near.apply_translation([0.0, 0.0, 1.0])
    far = trimesh.creation.box(extents=(2.0, 2.0, 0.1))
    mesh = trimesh.util.concatenate([far, near])
    got = zbuffer.mesh_distance_map(torch.tensor(mesh.vertices), torch.tensor(mesh.faces), cams, 0, 1)
    assert got[SIZE // 2, SIZE // 2].item() == pytest.approx(4.0 - 1.05, abs=1e-3)  # the near box's top
    pts = np.array([[0.0, 0.0, 1.05], [0.0, 0.0, 0.05], [0.8, 0.0, 0.05], [0.0, 0.0, -0.05]])
    seen = zbuffer.seen_unoccluded_by_mesh(pts, cams, mesh.vertices, mesh.faces, tol=0.02, scale=2)
    # the near top; the far top under it (hidden); the far top beside it; the far box's underside
    assert seen.tolist() == [True, False, True, False]
    assert zbuffer.seen_unoccluded_by_mesh(pts, cams, far.vertices, far.faces, 0.02).tolist() == [True, True, True, False]
