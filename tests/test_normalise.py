import math

import numpy as np
import pytest
import torch

from nerfspec.cameras import look_at
from nerfspec.data.normalise import (
    apply_to_points,
    apply_to_poses,
    focus_point,
    ngp_transform,
    poses_transform,
    rotation_to_z,
    similarity,
    transform_scale,
    vertical,
)


def rig(n: int = 30, seed: int = 0, radius: float = 4.0, target=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Cameras on the upper hemisphere around ``target`` looking at it, +z up, no roll."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.1, 0.9, n)
    phi = rng.uniform(0, 2 * math.pi, n)
    s = np.sqrt(1 - z * z)
    t = np.asarray(target, dtype=np.float64)
    eyes = t + radius * np.stack([s * np.cos(phi), s * np.sin(phi), z], axis=1)
    return np.stack([look_at(torch.from_numpy(e), torch.from_numpy(t)).numpy() for e in eyes])


def random_rotation(seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def moved(c2w: np.ndarray, scale: float, rot: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """The same rig in another world frame: p -> scale rot p + shift."""
    t = np.eye(4)
    t[:3, :3], t[:3, 3] = scale * rot, shift
    return apply_to_poses(t, c2w)


def test_similarity_maps_points_and_keeps_poses_rigid():
    rot = random_rotation(1)
    t = similarity(2.5, rot, np.array([1.0, -2.0, 0.5]))
    assert transform_scale(t) == pytest.approx(2.5)
    np.testing.assert_allclose(apply_to_points(t, np.array([[1.0, -2.0, 0.5]])), 0.0, atol=1e-12)
    poses = apply_to_poses(t, rig())
    for p in poses:
        np.testing.assert_allclose(p[:3, :3].T @ p[:3, :3], np.eye(3), atol=1e-12)
    np.testing.assert_allclose(poses[:, :3, 3], apply_to_points(t, rig()[:, :3, 3]), atol=1e-12)


def test_focus_point_is_where_the_cameras_look():
    target = (0.3, -1.2, 0.7)
    np.testing.assert_allclose(focus_point(rig(target=target)), target, atol=1e-9)
    # forward-facing cameras (all looking along -y from a plane) have no focus
    forward = np.stack([look_at(torch.tensor([x, 5.0, z], dtype=torch.float64),
                                torch.tensor([x, 0.0, z], dtype=torch.float64)).numpy()
                        for x in (-1.0, 0.0, 1.0) for z in (0.0, 0.5)])
    assert focus_point(forward) is None
    # cameras looking away from a common point (inside-out) have their focus behind: None too
    out = rig()
    out[:, :3, :3] = out[:, :3, :3] @ np.diag([-1.0, 1.0, -1.0])
    assert focus_point(out) is None


def test_vertical_is_recovered_in_any_world_frame():
    np.testing.assert_allclose(vertical(rig()), [0, 0, 1], atol=1e-9)
    rot = random_rotation(3)
    np.testing.assert_allclose(vertical(moved(rig(), 0.3, rot, np.array([5.0, 1.0, -2.0]))), rot[:, 2], atol=1e-9)
    np.testing.assert_allclose(rotation_to_z(rot[:, 2]) @ rot[:, 2], [0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(rotation_to_z(np.array([0, 0, -1.0])) @ [0, 0, -1.0], [0, 0, 1], atol=1e-12)


def test_poses_mode_undoes_an_unknown_world_frame():
    """A rig at radius 4 around the origin, seen by COLMAP in a scaled, turned and shifted
    frame, comes back at radius 4 around the origin with +z up."""
    original = rig(40, seed=5)
    rot = random_rotation(7)
    world = moved(original, 0.37, rot, np.array([10.0, -3.0, 2.0]))
    t = poses_transform(world, 4.0)
    back = apply_to_poses(t, world)
    np.testing.assert_allclose(np.linalg.norm(back[:, :3, 3], axis=1).mean(), 4.0, atol=1e-9)
    np.testing.assert_allclose(focus_point(back), 0.0, atol=1e-9)
    np.testing.assert_allclose(vertical(back), [0, 0, 1], atol=1e-9)
    # the camera heights above the focus are the original ones (only a turn about z is free)
    np.testing.assert_allclose(back[:, 2, 3], original[:, 2, 3], atol=1e-9)
    # the original rig is already normalised: the identity
    np.testing.assert_allclose(poses_transform(original, 4.0), np.eye(4), atol=1e-9)


def test_ngp_transform_places_the_instant_ngp_box_on_the_aabb():
    aabb = [-1.5, -1.5, -1.5, 1.5, 1.5, 1.5]
    t = ngp_transform(0.33, (0.5, 0.5, 0.5), 1.0, aabb)
    # instant-ngp's unit cube [0, 1]^3 (p_ngp = 0.33 p + 0.5) is the aabb: p = +-0.5 / 0.33 -> +-1.5
    np.testing.assert_allclose(apply_to_points(t, np.array([[0.5 / 0.33] * 3, [-0.5 / 0.33] * 3])),
                               [[1.5] * 3, [-1.5] * 3], atol=1e-12)
    t = ngp_transform(1.0, (0.5, 0.5, 0.5), 8.0, aabb)  # side 8 around 0.5 -> the aabb
    np.testing.assert_allclose(apply_to_points(t, np.array([[4.0, -4.0, 0.0]])), [[1.5, -1.5, 0.0]], atol=1e-12)
    # offset is in instant-ngp's axis order (y, z, x): offset[2] moves x
    t = ngp_transform(1.0, (0.5, 0.5, 1.5), 1.0, aabb)
    np.testing.assert_allclose(apply_to_points(t, np.zeros((1, 3))), [[3.0, 0.0, 0.0]], atol=1e-12)
