"""nerfspec.synth.environment: the generated unbounded scene, a textured room around the objects,
photographed as a walk-around."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nerfspec.synth.environment import ROOM_CEILING, ROOM_FLOOR, ROOM_HALF_WIDTH, environment, room_hit
from nerfspec.synth import SCENES_DIR, camera_poses, load_scene_description

pytestmark = pytest.mark.usefixtures("private_cache")


def test_room_rays_leave_through_its_faces():
    rng = np.random.default_rng(0)
    dirs = rng.normal(size=(3, 500))
    dirs /= np.linalg.norm(dirs, axis=0)
    eye = np.array([1.0, -2.0, 1.5])
    points, face = room_hit(dirs, eye)
    lo = np.array([-ROOM_HALF_WIDTH, -ROOM_HALF_WIDTH, ROOM_FLOOR])
    hi = np.array([ROOM_HALF_WIDTH, ROOM_HALF_WIDTH, ROOM_CEILING])
    on_face = np.array([lo[0], hi[0], lo[1], hi[1], lo[2], hi[2]])[face]
    axis = np.array([0, 0, 1, 1, 2, 2])[face]
    assert np.allclose(points[axis, np.arange(500)], on_face)
    assert (points >= lo[:, None] - 1e-9).all() and (points <= hi[:, None] + 1e-9).all()
    t = (points - eye[:, None]) / dirs
    assert np.allclose(t, t[0], atol=1e-6) and (t > 0).all()  # along each ray, in front


def test_room_colour_depends_on_where_the_camera_stands():
    # a wall at finite distance: the same direction seen from two places hits different texture
    dirs = np.stack([np.ones(64), np.linspace(-0.5, 0.5, 64), np.zeros(64)])
    dirs /= np.linalg.norm(dirs, axis=0)
    room = environment("room")
    a, b = room(dirs, np.zeros(3)), room(dirs, np.array([0.0, 0.4, 0.5]))
    assert np.abs(a - b).max() > 0.1
    sky = environment("sky")
    assert np.array_equal(sky(dirs, np.zeros(3)), sky(dirs, np.array([0.0, 0.4, 0.5])))


def test_walk_poses_ring_the_scene_inside_the_room():
    desc = load_scene_description(SCENES_DIR / "room.toml")
    poses = camera_poses(40, desc.camera, 0, "train")
    eyes = poses[:, :3, 3]
    dist = np.linalg.norm(eyes, axis=1)
    assert (dist >= 0.85 * desc.camera.radius - 1e-9).all() and (dist <= 1.1 * desc.camera.radius + 1e-9).all()
    elev = np.degrees(np.arcsin(eyes[:, 2] / dist))
    assert (elev >= 12 - 1e-6).all() and (elev <= 35 + 1e-6).all()
    assert (np.abs(eyes[:, :2]) < ROOM_HALF_WIDTH).all() and (eyes[:, 2] < ROOM_CEILING).all()
    azimuth = np.sort(np.arctan2(eyes[:, 1], eyes[:, 0]))
    assert np.diff(np.concatenate([azimuth, azimuth[:1] + 2 * math.pi])).max() < 2.5 * (2 * math.pi / 40)
    forward = -poses[:, :3, 2]
    to_centre = -eyes / dist[:, None]
    assert (np.einsum("nk,nk->n", forward, to_centre) > 0.98).all()  # looking near the centre
