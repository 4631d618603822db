"""Seeded fuzzing of captures (one transforms.json): the rules of test_blender_fuzz.py for the new
format. For every corrupted variant of a 6-frame distorted capture the loader either gives
usable splits or raises a one-line ``NerfspecError`` that starts with the input's path; no
other exception escapes and no input file changes. A sample also goes through the command
line (``nerfspec check-data``): exit 2 with one ``error:`` line, never a traceback."""

import copy
import json
import random
import re
import shutil
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from nerfspec.config import DataConfig
from nerfspec.data.dataset import load_split
from nerfspec.synth.generate import Photography
from nerfspec.synth import SCENES_DIR, make_scene
from nerfspec.errors import NerfspecError

from tests.conftest import run_cli
from tests.test_blender_fuzz import ODD_VALUES, apply_mutations, damage_json, frames_edit, tree_hash

VARIANTS = 240
CLI_VARIANTS = 12
TOP_KEYS = ["fl_x", "fl_y", "cx", "cy", "w", "h", "camera_model", "k1", "k2", "p1", "k3", "k4",
            "camera_angle_x", "camera_angle_y", "is_fisheye", "frames", "applied_transform", "aabb_scale",
            "scale", "offset", "train_filenames", "val_filenames", "test_filenames", "distortion_params",
            "orientation_override", "applied_scale", "fisheye_crop_radius"]
FRAME_KEYS = ["file_path", "transform_matrix", "mask_path", "fl_x", "w", "h", "cx", "camera_model", "k1",
              "distortion_params", "depth_file_path"]


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A 6-frame capture (4 train, 1 val, 1 test) with a mask on its first frame."""
    root = make_scene(SCENES_DIR / "default.toml", tmp_path_factory.mktemp("fuzzcap") / "base", size=16, views=4,
                      progress=False, photo=Photography(format="nerfstudio", lens_model="opencv",
                                                        distortion=(-0.1, 0.01, 0.001, 0.0), alpha=False,
                                                        background="sky"))
    meta = json.loads((root / "transforms.json").read_text())
    keep = set(meta["train_filenames"][:4] + meta["val_filenames"][:1] + meta["test_filenames"][:1])
    meta["frames"] = [f for f in meta["frames"] if f["file_path"] in keep]
    for key in ("train_filenames", "val_filenames", "test_filenames"):
        meta[key] = [n for n in meta[key] if n in keep]
    for p in (root / "images").iterdir():
        if f"images/{p.name}" not in keep:
            p.unlink()
    (root / "masks").mkdir()
    mask = np.full((16, 16), 255, np.uint8)
    mask[:4] = 0
    iio.imwrite(root / "masks/m0.png", mask)
    meta["frames"][0]["mask_path"] = "masks/m0.png"
    (root / "transforms.json").write_text(json.dumps(meta, indent=1))
    return root


def _frame(meta, rng):
    frames = meta.get("frames")
    if isinstance(frames, list) and frames:
        return rng.choice([f for f in frames if isinstance(f, dict)] or [{}])
    return None


def json_mutations(root: Path):
    images = sorted(f"images/{p.name}" for p in (root / "images").iterdir())

    def top_value(meta, rng):
        meta[rng.choice(TOP_KEYS)] = copy.deepcopy(rng.choice(ODD_VALUES))

    def top_drop(meta, rng):
        meta.pop(rng.choice(TOP_KEYS), None)

    def frame_value(meta, rng):
        if (f := _frame(meta, rng)) is not None:
            f[rng.choice(FRAME_KEYS)] = copy.deepcopy(rng.choice(ODD_VALUES))

    def frame_drop(meta, rng):
        if (f := _frame(meta, rng)) is not None:
            f.pop(rng.choice(FRAME_KEYS), None)

    def matrix_cell(meta, rng):
        f = _frame(meta, rng)
        m = f.get("transform_matrix") if f else None
        if isinstance(m, list) and m and isinstance(m[0], list) and m[0]:
            row = rng.choice(m)
            if isinstance(row, list) and row:
                row[rng.randrange(len(row))] = copy.deepcopy(rng.choice(ODD_VALUES + [1.0001, 3.0, -1.0]))

    def lens(meta, rng):
        meta[rng.choice(["k1", "k2", "p1", "p2", "k3", "k4"])] = rng.choice([-5.0, -1.0, -0.3, 0.0, 0.3, 2.0, 1e6])
        if rng.random() < 0.3:
            meta["camera_model"] = rng.choice(["OPENCV", "OPENCV_FISHEYE", "PINHOLE", "opencv", "FOV", "EQUIRECTANGULAR"])

    def intrinsics(meta, rng):
        key = rng.choice(["fl_x", "fl_y", "cx", "cy", "w", "h"])
        target = _frame(meta, rng) if rng.random() < 0.4 else meta
        if target is not None:
            target[key] = rng.choice([-16.0, 0, 1e-9, 8, 15.5, 16, 17, 32, 1e9, 22.2])

    def file_path(meta, rng):
        if (f := _frame(meta, rng)) is not None:
            f[rng.choice(["file_path", "mask_path"])] = rng.choice(
                images + ["images/nope.png", "images", ".", "..", "transforms.json", "masks/m0.png",
                          "/dev/null", "x" * 300, "images/" + images[0].split("/")[1].upper()])

    def split_lists(meta, rng):
        key = rng.choice(["train_filenames", "val_filenames", "test_filenames"])
        rng.choice([lambda: meta.pop(key, None), lambda: meta.update({key: []}),
                    lambda: meta.update({key: ["images/nope.png"]}), lambda: meta.update({key: images}),
                    lambda: [meta.pop(k, None) for k in ("train_filenames", "val_filenames", "test_filenames")]])()

    return [top_value, top_drop, frame_value, frame_drop, matrix_cell, lens, lens, intrinsics, intrinsics,
            frames_edit, file_path, split_lists]


def file_mutations(root: Path):
    def json_text(root, rng):
        p = root / "transforms.json"
        kind = rng.randrange(4)
        if kind == 0:  # a byte-order mark: must still load
            p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes())
        elif kind == 1:
            p.write_bytes(b"[" * 100000)  # nested too deep for the parser
        else:
            damage_json(p, rng)

    def image(root, rng):
        files = sorted((root / "images").glob("*.png")) + [root / "masks/m0.png"]
        p = rng.choice([f for f in files if f.is_file()] or files)
        kind = rng.randrange(6)
        if kind == 0 and p.is_file():
            p.write_bytes(p.read_bytes()[: rng.randrange(max(p.stat().st_size, 1))])
        elif kind == 1:
            p.unlink(missing_ok=True)
        elif kind == 2:
            p.unlink(missing_ok=True)
            p.mkdir()
        else:
            h, w = rng.choice([(16, 16), (16, 16), (8, 16), (1, 1), (17, 15), (32, 32)])
            shape = rng.choice([(h, w), (h, w, 3), (h, w, 4), (h, w, 2)])
            arr = np.random.default_rng(rng.randrange(1 << 30)).integers(0, 255, shape, dtype=np.uint8)
            iio.imwrite(p, arr, extension=".png")

    return [json_text, image, image]


def make_variant(base: Path, dst: Path, rng: random.Random) -> tuple[list[str], DataConfig]:
    shutil.copytree(base, dst)
    done = apply_mutations(dst, "transforms.json", json_mutations(dst), file_mutations(dst), rng, 0.7)
    data = DataConfig(root=str(dst), downscale=rng.choice([1, 1, 2, 3]),
                      normalize=rng.choice(["poses", "poses", "aabb_scale", "none"]),
                      holdout_every=rng.choice([2, 8]))
    return done, data


def check_split(split) -> None:
    n = len(split)
    assert n >= 1 and split.images.dtype == torch.uint8 and split.images.shape[-1] == 4, "images"
    assert split.images.shape[1:3] == (split.height, split.width) and min(split.height, split.width) >= 1
    assert split.poses.shape == (n, 4, 4) and torch.isfinite(split.poses).all(), "poses"
    rot = split.poses[:, :3, :3]
    assert torch.allclose(rot.transpose(1, 2) @ rot, torch.eye(3).expand(n, 3, 3), atol=1e-3), "rigid"
    for v in (split.fx, split.fy):
        assert v.shape == (n,) and torch.isfinite(v).all() and (v > 0).all(), "focal"
    assert torch.isfinite(split.cx).all() and torch.isfinite(split.cy).all(), "principal point"
    assert split.distortion is None or torch.isfinite(split.distortion).all(), "distortion"
    assert torch.isfinite(split.transform).all(), "transform"
    assert len({p.resolve() for p in split.image_paths}) == n, "an image used twice"


def outcome(data: DataConfig) -> str | None:
    """None when every split loads usably, else the one-line error."""
    try:
        for split in ("train", "val", "test"):
            check_split(load_split(data, split))
    except NerfspecError as exc:
        msg = str(exc)
        assert "\n" not in msg and msg.strip(), repr(msg)
        assert msg.startswith("/") and ": " in msg, msg
        return msg
    return None


def test_fuzz_captures(base, tmp_path, private_cache, capsys):
    rng = random.Random(20240917)
    counts = {"ok": 0, "error": 0}
    for i in range(VARIANTS):
        root = tmp_path / f"v{i}"
        mutations, data = make_variant(base, root, rng)
        before = tree_hash(root)
        try:
            msg = outcome(data)
        except Exception as exc:
            raise AssertionError(f"variant {i} ({mutations}, {data}): {type(exc).__name__}: {exc}") from exc
        assert tree_hash(root) == before, f"variant {i} ({mutations}) modified its input"
        counts["ok" if msg is None else "error"] += 1
        shutil.rmtree(root)
    capsys.readouterr()
    assert counts["error"] > VARIANTS // 3 and counts["ok"] > VARIANTS // 10, counts


def test_fuzz_captures_through_the_cli(base, tmp_path, monkeypatch):
    rng = random.Random(5)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    refused = 0
    for i in range(CLI_VARIANTS):
        root = tmp_path / f"c{i}"
        mutations, data = make_variant(base, root, rng)
        expected = outcome(data)
        before = tree_hash(root)
        sets = [f"data.{k}={v!r}" if isinstance(v, str) else f"data.{k}={v}"
                for k, v in (("downscale", data.downscale), ("normalize", data.normalize),
                             ("holdout_every", data.holdout_every))]
        proc = run_cli("check-data", root, *[a for s in sets for a in ("--set", s)])
        where = f"CLI variant {i} ({mutations}, expected {expected!r}):\n{proc.stderr[-2000:]}"
        assert "Traceback" not in proc.stderr, where
        assert proc.returncode == (0 if expected is None else 2), where
        if proc.returncode == 2:
            last = re.split(r"[\r\n]+", proc.stderr.strip())[-1]
            assert last == f"error: {expected}", where
            refused += 1
        assert tree_hash(root) == before, f"{where}\ninput modified"
    assert refused >= CLI_VARIANTS // 3
