"""nerfspec.data.frames: the checks every loader makes of a frame, one line naming file and frame."""

from pathlib import Path

import numpy as np
import pytest

from nerfspec.data.frames import frame_image, frame_list, frame_pose, image_file, is_file
from nerfspec.errors import DatasetError

FILE = Path("/scene/transforms_train.json")


def frame(matrix) -> dict:
    return {"file_path": "./train/r_0", "transform_matrix": matrix}


@pytest.mark.parametrize("meta", [{}, {"frames": []}, {"frames": {"a": 1}}])
def test_frame_list_must_be_a_non_empty_list(meta):
    with pytest.raises(DatasetError, match=r"transforms_train.json: 'frames' must be a non-empty list"):
        frame_list(FILE, meta)
    assert frame_list(FILE, {"frames": [1]}) == [1]


def test_frame_pose_takes_a_rigid_camera_to_world_transform():
    c, s = np.cos(0.3), np.sin(0.3)
    m = [[c, -s, 0, 1], [s, c, 0, 2], [0, 0, 1, 3], [0, 0, 0, 1]]
    pose = frame_pose(FILE, 0, frame(m))
    assert pose.dtype == np.float64 and np.array_equal(pose, np.array(m))


@pytest.mark.parametrize("value, needle", [
    ({"file_path": "a"}, "frame 3 needs 'file_path' and 'transform_matrix'"),
    ("not a frame", "frame 3 needs 'file_path' and 'transform_matrix'"),
    (frame("eye"), "frame 3 transform_matrix is not a numeric matrix"),
    (frame(np.eye(3).tolist()), r"frame 3 transform_matrix has shape \(3, 3\), expected \(4, 4\)"),
    (frame([[float("nan")] * 4] * 4), "frame 3 transform_matrix has non-finite values"),
    (frame((np.eye(4) * 1e39).tolist()), "frame 3 transform_matrix has values too large for float32"),
    (frame((np.eye(4) * 2).tolist()), "frame 3 transform_matrix is not a rigid camera-to-world transform"),
    (frame([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, 1]]), "frame 3 transform_matrix is not a rigid"),
])
@pytest.mark.filterwarnings("ignore:overflow encountered in cast")
def test_frame_pose_refuses_with_one_line(value, needle):
    with pytest.raises(DatasetError, match=f"transforms_train.json: {needle}"):
        frame_pose(FILE, 3, value)


def test_image_file_reads_windows_separators_and_finds_the_suffix(tmp_path):
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "r_0.jpg").write_bytes(b"")
    assert image_file(tmp_path, "train\\r_0") == tmp_path / "train" / "r_0.jpg"
    assert image_file(tmp_path, "./train/r_0.png") == tmp_path / "train" / "r_0.png"  # a suffix is kept
    assert image_file(tmp_path, "train/r_1") == tmp_path / "train" / "r_1.png"  # none there: the .png it should be


def test_is_file_is_false_for_a_name_the_file_system_refuses(tmp_path):
    (tmp_path / "a.png").write_bytes(b"")
    assert is_file(tmp_path / "a.png") and not is_file(tmp_path) and not is_file(tmp_path / ("x" * 5000))


def test_frame_image_wants_a_name_and_an_image_of_its_own(tmp_path):
    seen = {}
    assert frame_image(FILE, tmp_path, 0, "a.png", seen) == tmp_path / "a.png"
    assert frame_image(FILE, tmp_path, 1, "b.png", seen) == tmp_path / "b.png"
    with pytest.raises(DatasetError, match="frames 0 and 2 both use a.png; each frame needs its own image"):
        frame_image(FILE, tmp_path, 2, "./a.png", seen)
    for name in ("", "  ", 7, None):
        with pytest.raises(DatasetError, match="frame 4 file_path must be a non-empty string"):
            frame_image(FILE, tmp_path, 4, name, seen)
