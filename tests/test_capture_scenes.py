"""Real-scene captures: frames whose images are missing (data.missing_images), the frame and
box a capture's file chooses, and the generated unbounded scene (a textured room around the
objects, photographed as a walk-around)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nerfspec.data.dataset import load_split
from nerfspec.synth.environment import ROOM_CEILING, ROOM_FLOOR, ROOM_HALF_WIDTH, environment, room_hit
from nerfspec.synth import SCENES_DIR, camera_poses, load_scene_description
from nerfspec.errors import DatasetError
from tests.test_capture import capture, data  # noqa: F401  (the module fixture and helper)

pytestmark = pytest.mark.usefixtures("private_cache")


def without_images(capture, tmp_path, count: int):  # noqa: F811
    import shutil

    dst = tmp_path / "holes"
    shutil.copytree(capture, dst)
    gone = sorted((dst / "images").glob("train_*.png"))[:count]
    for p in gone:
        p.unlink()
    return dst, gone


def test_missing_images_are_an_error_naming_the_count_and_the_setting(capture, tmp_path):  # noqa: F811
    root, gone = without_images(capture, tmp_path, 3)
    with pytest.raises(DatasetError) as err:
        load_split(data(root), "train")
    msg = str(err.value)
    assert "3 of 12 frames" in msg and 'data.missing_images = "skip"' in msg and gone[0].name in msg
    assert "\n" not in msg


def test_missing_images_skipped_with_one_warning(capture, tmp_path, capsys):  # noqa: F811
    root, gone = without_images(capture, tmp_path, 3)
    full = load_split(data(capture), "train")
    cfg = data(root, missing_images="skip")
    train = load_split(cfg, "train")
    test = load_split(cfg, "test")
    assert train.images.shape[0] == full.images.shape[0] - 3
    assert test.images.shape[0] == load_split(data(capture), "test").images.shape[0]
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "skipping 3 of 12 frames" in warnings[0]


def test_every_image_missing_is_an_error_even_when_skipping(capture, tmp_path):  # noqa: F811
    root, _ = without_images(capture, tmp_path, 8)
    for p in (root / "images").glob("*.png"):
        p.unlink()
    with pytest.raises(DatasetError, match="12 of 12 frames"):
        load_split(data(root, missing_images="skip"), "train")


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
