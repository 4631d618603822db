import math

import torch

from nerfspec.cameras import orbit_path
from nerfspec.export.smooth_path import (
    align_signs,
    gaussian_smooth,
    interpolate_path,
    quaternion_to_rotation,
    rotation_to_quaternion,
)


def random_rotations(n: int, seed: int) -> torch.Tensor:
    q = torch.randn(n, 4, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return quaternion_to_rotation(q)


def test_quaternions_round_trip_every_rotation():
    rots = torch.cat([random_rotations(500, 0), torch.diag_embed(torch.tensor(
        [[1.0, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=torch.float64))])  # incl. half turns
    q = rotation_to_quaternion(rots)
    torch.testing.assert_close(q.norm(dim=-1), torch.ones(len(q), dtype=torch.float64))
    torch.testing.assert_close(quaternion_to_rotation(q), rots, atol=1e-12, rtol=0)
    # a turn by a about z is (cos a/2, 0, 0, sin a/2)
    a = 0.8
    rz = torch.tensor([[[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]]], dtype=torch.float64)
    torch.testing.assert_close(rotation_to_quaternion(rz)[0], torch.tensor([math.cos(a / 2), 0, 0, math.sin(a / 2)],
                                                                            dtype=torch.float64))


def test_signs_and_smoothing():
    q = torch.tensor([[1.0, 0, 0, 0], [-0.99, -0.1, 0, 0], [0.98, 0.2, 0, 0]])
    assert (align_signs(q)[:, 0] > 0).all()
    x = torch.arange(10, dtype=torch.float64)[:, None]
    torch.testing.assert_close(gaussian_smooth(x, 0.0), x)
    smooth = gaussian_smooth(x, 1.0)
    torch.testing.assert_close(smooth[3:7], x[3:7])  # a straight line is kept away from the ends
    noisy = x + torch.tensor([0.5, -0.5] * 5, dtype=torch.float64)[:, None]
    assert (gaussian_smooth(noisy, 2.0)[3:7] - x[3:7]).abs().max() < 0.1


def test_interpolated_path_follows_the_cameras_evenly():
    keys = orbit_path(24, 4.0, 20.0, turns=0.75).double()
    path = interpolate_path(keys, 200, smoothing=0.0)
    assert path.shape == (200, 4, 4)
    torch.testing.assert_close(path[0], keys[0], atol=1e-6, rtol=0)  # keys are float32 poses
    torch.testing.assert_close(path[-1], keys[-1], atol=1e-6, rtol=0)
    rot = path[:, :3, :3]
    torch.testing.assert_close(rot.transpose(1, 2) @ rot, torch.eye(3, dtype=torch.float64).expand(200, 3, 3),
                               atol=1e-9, rtol=0)
    # chords of the 24-gon: within its sagitta of the circle, steps even to 1 %
    r = path[:, :3, 3].norm(dim=-1)
    assert (r <= 4.0 + 1e-9).all() and (r > 4.0 * math.cos(math.pi * 0.75 / 23) - 1e-9).all()
    steps = path[1:, :3, 3] - path[:-1, :3, 3]
    assert steps.norm(dim=-1).std() / steps.norm(dim=-1).mean() < 0.01
    # the cameras still look at the centre (within the chord's angle)
    look = -path[:, :3, 2]
    cos = (look * -path[:, :3, 3] / r[:, None]).sum(-1)
    assert (cos > math.cos(math.radians(4.0))).all()


def test_smoothing_removes_camera_shake():
    keys = orbit_path(60, 4.0, 20.0, turns=0.5).double()
    shaken = keys.clone()
    shaken[:, :3, 3] += 0.1 * torch.randn(60, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    # the shake left in the path: its distance from the same path through the steady cameras
    shake = lambda sigma: (interpolate_path(shaken, 300, sigma)[:, :3, 3]  # noqa: E731
                           - interpolate_path(keys, 300, sigma)[:, :3, 3]).norm(dim=-1).mean()
    assert shake(3.0) < 0.4 * shake(0.0)
    still = keys[:1].expand(5, 4, 4)
    torch.testing.assert_close(interpolate_path(still, 7), keys[:1].expand(7, 4, 4))
