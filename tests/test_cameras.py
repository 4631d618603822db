import math

import pytest
import torch

from nerfspec.cameras import (
    camera_directions,
    focal_from_fov,
    image_rays,
    look_at,
    orbit_path,
    pixel_rays,
    ray_aabb_intersect,
    spiral_path,
)


def test_focal_from_fov():
    assert focal_from_fov(400, 2 * math.atan(0.5)) == pytest.approx(400.0)


def test_centre_pixel_looks_down_minus_z():
    d = camera_directions(torch.tensor([1.5]), torch.tensor([1.5]), 4, 4, 2.0)
    assert d[0].tolist() == [0.0, 0.0, -1.0]
    # pixel (0, 0) is up and left: x < 0, y > 0 (Blender: +y up, rows go down)
    d = camera_directions(torch.tensor([0.0]), torch.tensor([0.0]), 4, 4, 2.0)
    assert d[0, 0] < 0 and d[0, 1] > 0


def test_rays_of_known_camera_hit_known_points():
    eye = torch.tensor([0.0, -4.0, 0.0])
    pose = look_at(eye)
    o, d = image_rays(pose, 5, 5, 5.0)
    centre = d.reshape(5, 5, 3)[2, 2]
    torch.testing.assert_close(centre, torch.tensor([0.0, 1.0, 0.0]))
    assert torch.allclose(o, eye.expand_as(o))
    # the point (1, 0, 0) is right of the origin as seen from -y: it projects to pixel column
    # i + 0.5 - W/2 = f * 1 / 4, so i = 3.25 (a fractional column), centre row j = 2
    o2, d2 = pixel_rays(pose, torch.tensor([3.25]), torch.tensor([2.0]), 5, 5, 5.0)
    p = o2 + d2 * (torch.tensor([1.0, 0.0, 0.0]) - eye).norm()
    torch.testing.assert_close(p[0], torch.tensor([1.0, 0.0, 0.0]), atol=1e-5, rtol=0)


def test_pose_is_rigid_and_paths_orbit():
    for pose in torch.cat([orbit_path(8, 4.0, 30.0), spiral_path(8, 4.0, 30.0)]):
        r = pose[:3, :3]
        torch.testing.assert_close(r.T @ r, torch.eye(3), atol=1e-5, rtol=0)
        assert pose[:3, 3].norm().item() == pytest.approx(4.0, rel=1e-5)
        # the camera looks at the origin: -z axis points from the eye to 0
        torch.testing.assert_close(-r[:, 2], -pose[:3, 3] / 4.0, atol=1e-5, rtol=0)
    assert orbit_path(4, 4.0, 30.0)[:, 2, 3].allclose(torch.tensor(2.0))


def test_ray_aabb_intersect():
    aabb = torch.tensor([-1.0, -1, -1, 1, 1, 1])
    o = torch.tensor([[-3.0, 0, 0], [-3.0, 5, 0], [0.0, 0, 0]])
    d = torch.tensor([[1.0, 0, 0], [1.0, 0, 0], [0.0, 0, 1]])
    near, far = ray_aabb_intersect(o, d, aabb)
    assert near[0] == pytest.approx(2.0) and far[0] == pytest.approx(4.0)
    assert near[1] >= far[1]  # miss
    assert near[2] == 0.0 and far[2] == pytest.approx(1.0)  # inside
