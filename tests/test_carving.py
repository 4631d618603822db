import math

import torch

from nerfspec.cameras import Cameras, image_rays, look_at
from nerfspec.render.carving import carve_empty_cells, dilate_masks
from nerfspec.render.grid import OccupancyGrid
from nerfspec.render.sampling import grid_coords
from nerfspec.config import SamplerConfig

AABB = torch.tensor([-1.0, -1, -1, 1, 1, 1])


def test_projection_inverts_pixel_rays():
    pose = look_at(torch.tensor([0.5, -3.0, 1.0]))
    o, d = image_rays(pose, 8, 6, 7.0)
    pts = o + 2.5 * d
    i, j, depth = Cameras.pinhole(pose[None], 8, 6, 7.0).project(pts, 0)
    jj, ii = torch.meshgrid(torch.arange(6.0), torch.arange(8.0), indexing="ij")
    torch.testing.assert_close(i, ii.reshape(-1), atol=1e-4, rtol=0)
    torch.testing.assert_close(j, jj.reshape(-1), atol=1e-4, rtol=0)
    assert (depth > 0).all()


def test_dilation():
    m = torch.zeros(1, 7, 7, dtype=torch.bool)
    m[0, 3, 3] = True
    out = dilate_masks(m, 2)
    assert out[0, 1:6, 1:6].all() and out.sum() == 25


def sphere_views(n, radius=0.5, size=32, focal=40.0):
    """Alpha masks of a sphere at the origin seen from ``n`` cameras on a circle."""
    poses, alphas = [], []
    for k in range(n):
        a = 2 * math.pi * k / n
        pose = look_at(torch.tensor([3 * math.cos(a), 3 * math.sin(a), 1.0]))
        o, d = image_rays(pose, size, size, focal)
        # ray-sphere: hit when the closest approach is inside the radius
        tc = -(o * d).sum(-1)
        closest = (o + tc[:, None] * d).norm(dim=-1)
        alphas.append(((closest < radius) * 255).to(torch.uint8).reshape(size, size))
        poses.append(pose)
    return torch.stack(alphas), torch.stack(poses), focal


def test_carving_keeps_the_object_and_removes_space_around_it():
    alpha, poses, focal = sphere_views(12)
    empty = carve_empty_cells(AABB, 16, alpha, Cameras.pinhole(poses, 32, 32, focal))
    centres = -1 + (grid_coords(16).float() + 0.5) / 16 * 2
    r = centres.norm(dim=-1)
    assert not empty[r < 0.5 + 0.13].any()  # nothing that could hold the sphere's surface
    assert empty[r > 0.95].float().mean() > 0.9  # most of the empty space goes
    grid = OccupancyGrid(AABB, SamplerConfig(grid_resolution=16, update_cells=64))
    grid.carve(empty)
    assert not grid.binary[empty].any()
    grid.update(0, lambda x: torch.full((len(x),), 100.0))  # dense everywhere: carved stays empty
    assert not grid.binary[empty].any() and grid.binary[r < 0.5].all()
