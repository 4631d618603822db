"""nerfspec.data.scene_choice: how a scene's frame (data.normalize) and model (data.scene) are chosen
from its file when auto, and the line that says why."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from nerfspec.config import config_from_dict
from nerfspec.data.dataset import resolve_scene
from nerfspec.data.scene_choice import cameras_inside, choose_normalize, choose_scene


def test_normalize_auto_takes_the_files_frame_where_it_states_one():
    ngp = {"aabb_scale": 4.0, "scale": 0.33, "offset": (0.5, 0.5, 0.5), "given": ("aabb_scale",)}
    mode, why = choose_normalize("auto", ngp)
    assert mode == "aabb_scale" and "aabb_scale 4" in why
    assert choose_normalize("auto", {**ngp, "given": ()})[0] == "poses"
    assert choose_normalize("poses", ngp)[0] == "poses"


def test_scene_auto_from_layout_masks_and_cameras():
    assert choose_scene("auto", False, 0, 0, 0.0)[0] == "object"
    assert choose_scene("auto", True, 0, 10, 0.0)[0] == "unbounded"
    assert choose_scene("auto", True, 10, 10, 0.0)[0] == "object"
    assert choose_scene("auto", False, 0, 0, 0.9)[0] == "unbounded"  # cameras inside the box
    assert choose_scene("object", True, 0, 10, 0.9)[0] == "object"
    assert cameras_inside(np.array([[0.0, 0, 0], [5.0, 0, 0]]), [-1, -1, -1, 1, 1, 1]) == 0.5


@pytest.mark.usefixtures("private_cache")
def test_resolve_scene_fixes_frame_and_model_and_says_why(tmp_path):
    from tests.test_capture import make_capture

    root = make_capture(tmp_path / "cap")
    cfg, note = resolve_scene(config_from_dict({"data": {"root": str(root)}}))
    assert (cfg.data.normalize, cfg.data.scene) == ("poses", "unbounded")
    assert "poses" in note and "unbounded" in note and "box [-1.5" in note
    meta = json.loads((root / "transforms.json").read_text())
    meta["aabb_scale"] = 4
    ngp = tmp_path / "ngp"
    shutil.copytree(root, ngp)
    (ngp / "transforms.json").write_text(json.dumps(meta))
    cfg, note = resolve_scene(config_from_dict({"data": {"root": str(ngp)}}))
    assert cfg.data.normalize == "aabb_scale" and "aabb_scale 4" in note
    assert np.allclose(np.reshape(cfg.data.transform, (4, 4))[:3, :3], np.eye(3) * 0.33 * 3 / 4)
