"""nerfspec.export.visibility: what the training cameras see of a surface (frustum and occlusion by
the analytic scene), against closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nerfspec.cameras import Cameras, look_at
from nerfspec.export import visibility
from nerfspec.synth import SCENES_DIR, load_scene_description, raycast


FOCAL = 40.0
SIZE = 32


def camera_at(*eyes) -> Cameras:
    """Pinhole cameras (32 px, focal 40) at ``eyes`` looking at the origin."""
    c2w = torch.stack([look_at(torch.tensor(e, dtype=torch.float64)).float() for e in eyes])
    return Cameras.pinhole(c2w, SIZE, SIZE, FOCAL)


def unit_sphere_shapes() -> list:
    return raycast.build_shapes(load_scene_description(SCENES_DIR / "sphere.toml"))


def test_unit_sphere_scene_is_the_unit_sphere_at_the_origin():
    (shape,) = unit_sphere_shapes()
    assert shape.r == pytest.approx(1.0) and np.allclose(shape.center, 0.0)


def test_one_camera_sees_its_hemisphere_and_nothing_behind_or_inside():
    cams = camera_at((0.0, 0.0, 4.0))
    hit = visibility.analytic_first_hit(unit_sphere_shapes())
    pts = np.array([
        [0.0, 0.0, 1.0],      # nearest point: seen
        [0.6, 0.0, 0.8],      # near hemisphere: seen
        [0.0, 0.0, -1.0],     # far side: occluded
        [0.0, 0.0, 0.0],      # inside the sphere: occluded
        [0.0, 0.0, 2.0],      # free space in front: seen
        [0.0, 0.0, 5.0],      # behind the camera: not in the frustum
        [3.0, 0.0, 1.0],      # off to the side, outside the frustum
    ])
    seen = visibility.seen_points(pts, cams, hit, tol=0.01)
    assert seen.tolist() == [True, True, False, False, True, False, False]
    assert visibility.in_any_frustum(pts, cams).tolist() == [True] * 5 + [False, False]
    both = camera_at((0.0, 0.0, 4.0), (0.0, 0.0, -4.0))  # a second camera sees the far side
    assert visibility.seen_points(pts, both, hit, tol=0.01).tolist() == [True, True, True, False, True, False, False]


def test_the_tolerance_lets_points_just_behind_the_surface_count():
    cams = camera_at((0.0, 0.0, 4.0))
    hit = visibility.analytic_first_hit(unit_sphere_shapes())
    pts = np.array([[0.0, 0.0, 0.985], [0.0, 0.0, 0.95]])  # 0.015 and 0.05 below the surface
    assert visibility.seen_points(pts, cams, hit, tol=0.02).tolist() == [True, False]


def depth_of_unit_sphere(cams: Cameras) -> torch.Tensor:
    """(N, H, W) distance along each pixel's unit ray to the unit sphere, inf on a miss."""
    hit = visibility.analytic_first_hit(unit_sphere_shapes())
    maps = []
    for k in range(len(cams)):
        origins, dirs = cams.image_rays(k)
        maps.append(torch.from_numpy(hit(origins[0].double().numpy(), dirs.double().numpy())).float())
    return torch.stack(maps).reshape(len(cams), cams.height, cams.width)


def test_seen_in_depth_maps_up_to_the_margin():
    cams = camera_at((0.0, 0.0, 3.0))
    depth = torch.full((1, SIZE, SIZE), 3.0)  # distance 3 along every ray: through the origin on the axis
    pts = np.array([[0.0, 0.0, 0.5], [0.0, 0.0, -0.01], [0.0, 0.0, -0.05], [5.0, 0.0, 0.0]])
    assert visibility.seen_in_depth_maps(pts, cams, depth, 0.02, spread=0).tolist() == [True, True, False, False]
    background = torch.full_like(depth, float("inf"))  # a view seeing nothing there sees all it looks at
    assert visibility.seen_in_depth_maps(pts, cams, background, 0.02).tolist() == [True, True, True, False]


def test_seen_in_depth_maps_takes_the_far_side_of_a_depth_edge():
    """Columns 0..15 render a surface at distance 2, columns 16.. background: a point at distance
    3 on column 15's ray is hidden for that pixel alone, seen through its background neighbour."""
    cams = camera_at((0.0, 0.0, 3.0))
    depth = torch.full((1, SIZE, SIZE), float("inf"))
    depth[:, :, :16] = 2.0
    origins, dirs = cams.rays(torch.tensor([0, 0]), torch.tensor([15, 10]), torch.tensor([16, 16]))
    pts = (origins + 3.0 * dirs).double().numpy()
    assert visibility.seen_in_depth_maps(pts, cams, depth, 0.02, spread=0).tolist() == [False, False]
    assert visibility.seen_in_depth_maps(pts, cams, depth, 0.02, spread=1).tolist() == [True, False]
