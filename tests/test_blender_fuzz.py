"""Seeded fuzzing of datasets and configs: hundreds of corrupted variants of a 3-view scene and
of a small config. For every variant the loader either succeeds with usable data or raises a
one-line ``NerfspecError`` naming the input; nothing else escapes, and no input file changes.
A sample of variants also goes through the CLI's entry point (``nerfspec train``, in-process): exit 2 with
one ``error:`` line for what the loader refuses, never a traceback, never exit 0 on bad input.
"""

import copy
import hashlib
import json
import math
import random
import re
import shutil
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from nerfspec.config import ConfigError, dump_toml, load_config
from nerfspec.data.blender import DatasetError, load_blender_split
from nerfspec.errors import NerfspecError
from nerfspec.models import build_models
from nerfspec.train import Trainer

from tests.conftest import CliResult, run_cli, tiny_config_dict

DATASET_VARIANTS = 320
CONFIG_VARIANTS = 160
CLI_VARIANTS = 20
VIEWS = 3

# values that end up where numbers, strings, lists and tables are expected
ODD_VALUES = [-1, 0, 1, 2, 7, 0.5, -0.5, 1e-3, 1e300, float("nan"), float("inf"), -float("inf"), "x", "",
              "0.7", True, False, None, [], [1, 2], [[1, 2], [3]], {}, {"a": 1}, "../../etc/passwd"]
TOML_VALUES = [v for v in ODD_VALUES if v is not None]  # TOML has no null


# -- the base inputs ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def base_scene(tiny_scene, tmp_path_factory) -> Path:
    """A 3-view copy of the tiny scene (train split only)."""
    dst = tmp_path_factory.mktemp("fuzz") / "base"
    meta = json.loads((tiny_scene / "transforms_train.json").read_text())
    meta["frames"] = meta["frames"][:VIEWS]
    meta.pop("bands", None)
    (dst / "train").mkdir(parents=True)
    for frame in meta["frames"]:
        frame.pop("band_path", None)
        shutil.copy(tiny_scene / (frame["file_path"] + ".png"), dst / (frame["file_path"] + ".png"))
    (dst / "transforms_train.json").write_text(json.dumps(meta, indent=1))
    return dst


def base_config(scene: Path, out: Path) -> dict:
    d = tiny_config_dict(scene, out, max_steps=1, rays_per_step=32, threads=1, checkpoint_every=1)
    d["field"].update(width=16, gauss={"features": 8, "sigma": 2.0})
    return d


def tree_hash(root: Path) -> dict[str, str]:
    """sha256 of every file under root (or of root itself), by relative path."""
    if root.is_file():
        return {root.name: hashlib.sha256(root.read_bytes()).hexdigest()}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))}


# -- dataset mutations ---------------------------------------------------------------------------------

def _frame(meta, rng):
    frames = meta.get("frames")
    if isinstance(frames, list) and frames and isinstance(frames[0], dict):
        return rng.choice([f for f in frames if isinstance(f, dict)] or [{}])
    return None


def _matrix_cell(meta, rng, value):
    f = _frame(meta, rng)
    m = f.get("transform_matrix") if f else None
    if isinstance(m, list) and m and isinstance(m[0], list) and m[0]:
        row = rng.choice(m)
        if isinstance(row, list) and row:
            row[rng.randrange(len(row))] = value


def frames_edit(meta, rng):
    """Duplicate, drop, clear, shuffle the frames, or put a number among them."""
    frames = meta.get("frames")
    if isinstance(frames, list) and frames:
        rng.choice([lambda: frames.append(copy.deepcopy(frames[0])), lambda: frames.pop(),
                    lambda: frames.clear(), lambda: rng.shuffle(frames), lambda: frames.insert(0, 7)])()


def json_mutations(root: Path):
    """Functions (meta, rng) -> None that corrupt the parsed JSON."""
    images = [str(p.relative_to(root).with_suffix("")) for p in sorted((root / "train").glob("*.png"))]

    def set_key(meta, rng):
        meta[rng.choice(["camera_angle_x", "frames", "bands"])] = copy.deepcopy(rng.choice(ODD_VALUES))

    def drop_key(meta, rng):
        meta.pop(rng.choice(["camera_angle_x", "frames"]), None)

    def frame_key(meta, rng):
        f = _frame(meta, rng)
        if f is not None:
            f[rng.choice(["file_path", "transform_matrix", "band_path"])] = copy.deepcopy(rng.choice(ODD_VALUES))

    def frame_drop(meta, rng):
        f = _frame(meta, rng)
        if f is not None:
            f.pop(rng.choice(["file_path", "transform_matrix"]), None)

    def cell(meta, rng):
        _matrix_cell(meta, rng, copy.deepcopy(rng.choice(ODD_VALUES)))

    def scale_cell(meta, rng):
        _matrix_cell(meta, rng, rng.choice([1.0001, 1.5, -1.0, 0.0, 1e-9, 3.0]))

    def reshape(meta, rng):
        f = _frame(meta, rng)
        if f is not None and isinstance(f.get("transform_matrix"), list) and f["transform_matrix"]:
            m = f["transform_matrix"]
            rng.choice([lambda: m.pop(), lambda: m.append([0, 0, 0, 1]), lambda: m[0].pop() if isinstance(m[0], list) else None,
                        lambda: f.update(transform_matrix=np.array(m, dtype=object).T.tolist())])()

    def file_path(meta, rng):
        f = _frame(meta, rng)
        if f is not None:
            f["file_path"] = rng.choice(images + ["./train/nope", "./train", ".", "..", "transforms_train.json",
                                                  "./train/r_0.jpg", "/dev/null", "./train/r_0.PNG", "x" * 300])

    def fov(meta, rng):
        meta["camera_angle_x"] = rng.choice([0.0, -0.1, math.pi, 3.2, 1e-12, 0.69, 2, "0.69", [0.69]])

    return [set_key, drop_key, frame_key, frame_drop, cell, scale_cell, reshape, frames_edit, file_path, fov]


def damage_json(p: Path, rng: random.Random) -> None:
    """Truncate a JSON file, overwrite or insert random bytes, or replace it with an odd document."""
    data = bytearray(p.read_bytes()) or bytearray(b"{}")
    kind = rng.randrange(4)
    if kind == 0:
        data = data[: rng.randrange(len(data))]
    elif kind == 1:
        for _ in range(rng.randint(1, 5)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind == 2:
        pos = rng.randrange(len(data))
        data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    else:
        data = bytearray(rng.choice([b"", b"null", b"[]", b"{}", b"\xef\xbb\xbf{}", b'{"frames": 1e999}']))
    p.write_bytes(bytes(data))


def file_mutations(root: Path):
    """Functions (root, rng) -> None that corrupt files on disk."""

    def json_text(root, rng):
        damage_json(root / "transforms_train.json", rng)

    def image(root, rng):
        pngs = [p for p in sorted((root / "train").glob("*.png")) if p.is_file()]
        if not pngs:
            return
        p = rng.choice(pngs)
        data = bytearray(p.read_bytes())
        kind = rng.randrange(9)
        if kind == 0 or len(data) <= 8:
            p.write_bytes(bytes(data[: rng.randrange(len(data) or 1)]))
        elif kind == 1:
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(8, len(data))] = rng.randrange(256)
            p.write_bytes(bytes(data))
        elif kind == 2:
            p.write_bytes(rng.choice([b"", b"hello", b"\x89PNG\r\n\x1a\n"]))
        elif kind == 3:
            p.unlink()
        elif kind == 4:
            p.unlink()
            p.mkdir()
        else:
            h, w = rng.choice([(32, 32), (32, 32), (16, 32), (1, 1), (33, 31)])
            shape = {5: (h, w), 6: (h, w, 3), 7: (h, w, 4), 8: (h, w, 2)}[kind]
            dtype = rng.choice([np.uint8, np.uint16]) if kind == 5 else np.uint8  # Pillow writes 16-bit grey only
            arr = np.random.default_rng(rng.randrange(1 << 30)).integers(0, np.iinfo(dtype).max, shape, dtype=dtype)
            iio.imwrite(p, arr, extension=".png")

    def stray(root, rng):
        sources = [p for p in sorted((root / "train").glob("*.png")) if p.is_file() and p.name != "r_extra.png"]
        shutil.copy(rng.choice(sources or [root / "transforms_train.json"]), root / "train" / "r_extra.png")

    return [json_text, image, image, stray]


def apply_mutations(dst: Path, json_name: str, meta_fns, file_fns, rng: random.Random, json_share: float) -> list[str]:
    """1-3 random mutations of the dataset at ``dst``: with probability ``json_share`` one of
    ``meta_fns`` on the parsed ``json_name`` (skipped when that no longer parses to an object),
    else one of ``file_fns``; returns their names."""
    done = []
    for _ in range(rng.randint(1, 3)):
        if rng.random() < json_share:
            fn = rng.choice(meta_fns)
            p = dst / json_name
            try:
                meta = json.loads(p.read_bytes().decode("utf-8-sig"))
            except (ValueError, UnicodeDecodeError, RecursionError):
                continue
            if not isinstance(meta, dict):
                continue
            fn(meta, rng)
            p.write_text(json.dumps(meta))  # NaN / Infinity become JSON's non-standard literals
        else:
            fn = rng.choice(file_fns)
            fn(dst, rng)
        done.append(fn.__name__)
    return done


def make_dataset_variant(base: Path, dst: Path, rng: random.Random) -> tuple[list[str], int]:
    """Copy ``base`` to ``dst`` and apply 1-3 random mutations; returns their names and a downscale."""
    shutil.copytree(base, dst)
    done = apply_mutations(dst, "transforms_train.json", json_mutations(dst), file_mutations(dst), rng, 0.6)
    return done, rng.choice([1, 1, 1, 2, 3])


def check_split(split, downscale: int) -> None:
    """What a successful load must give: usable images and poses."""
    n = len(split)
    assert n >= 1 and split.images.dtype == torch.uint8 and split.images.shape[-1] == 4, "images"
    assert split.images.shape[1] >= 1 and split.images.shape[2] >= 1, "image size"
    assert split.poses.shape == (n, 4, 4) and torch.isfinite(split.poses).all(), f"poses {split.poses}"
    assert math.isfinite(split.focal) and split.focal > 0 and 0 < split.camera_angle_x < math.pi, "focal"
    assert len({p.resolve() for p in split.image_paths}) == n, "an image used twice"


def load_dataset_outcome(root: Path, downscale: int) -> str | None:
    """None when the split loads (and is usable), else the one-line error message."""
    try:
        split = load_blender_split(root, "train", downscale)
    except DatasetError as exc:
        msg = str(exc)
        assert "\n" not in msg and msg.strip(), repr(msg)
        assert msg.startswith("/") and ": " in msg, msg  # names the file or folder first
        return msg
    check_split(split, downscale)
    return None


def test_fuzz_datasets(base_scene, tmp_path, capsys):
    rng = random.Random(20240601)
    outcomes = {"ok": 0, "error": 0}
    for i in range(DATASET_VARIANTS):
        root = tmp_path / f"v{i}"
        mutations, downscale = make_dataset_variant(base_scene, root, rng)
        before = tree_hash(root)
        try:
            msg = load_dataset_outcome(root, downscale)
        except Exception as exc:  # anything but DatasetError is a bug in the loader
            raise AssertionError(f"variant {i} ({mutations}, downscale {downscale}): "
                                 f"{type(exc).__name__}: {exc}") from exc
        assert tree_hash(root) == before, f"variant {i} ({mutations}) modified its input"
        outcomes["ok" if msg is None else "error"] += 1
        shutil.rmtree(root)
    capsys.readouterr()
    assert outcomes["error"] > DATASET_VARIANTS // 2 and outcomes["ok"] > 0, outcomes


# -- config mutations ------------------------------------------------------------------------------------

def leaf_paths(d: dict, prefix=()) -> list[tuple]:
    out = []
    for k, v in d.items():
        out.extend(leaf_paths(v, prefix + (k,)) if isinstance(v, dict) else [prefix + (k,)])
    return out


def typo(rng: random.Random, word: str) -> str:
    i = rng.randrange(len(word))
    return rng.choice([word[:i] + word[i + 1:], word[:i] + rng.choice("abcdefgz_") + word[i:],
                       word[:i] + word[i:i + 2][::-1] + word[i + 2:], word.upper()]) or "k"


def mutate_config(values: dict, rng: random.Random) -> list[str]:
    done = []
    paths = leaf_paths(values)
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(paths)
        node = values
        for part in path[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            continue
        kind = rng.choice([0, 0, 0, 1, 1, 2, 3, 3])
        if kind == 0 and path[-1] in node:  # odd value
            node[path[-1]] = copy.deepcopy(rng.choice(TOML_VALUES))
        elif kind == 1 and path[-1] in node:  # mistyped key
            node[typo(rng, path[-1])] = node.pop(path[-1])
        elif kind == 2:  # a table replaced or dropped
            section = rng.choice([k for k, v in values.items() if isinstance(v, dict)])
            values[section] = copy.deepcopy(rng.choice([1, "x", [], {}]))
        else:  # extreme but well-typed numbers
            if isinstance(node.get(path[-1]), (int, float)) and not isinstance(node.get(path[-1]), bool):
                node[path[-1]] = type(node[path[-1]])(rng.choice([-3, 0, 1, 2]))
        done.append(f"{kind}:{'.'.join(path)}")
    return done


def write_config_variant(path: Path, values: dict, rng: random.Random) -> None:
    text = dump_toml(values)
    if rng.random() < 0.15:  # damage the text itself
        data = bytearray(text.encode())
        data = data[: rng.randrange(len(data))] if rng.random() < 0.5 else data
        for _ in range(rng.randint(0, 3) if data else 0):
            data[rng.randrange(len(data))] = rng.randrange(256)
        path.write_bytes(bytes(data))
    else:
        path.write_text(text)


def load_config_outcome(path: Path, train_step: bool = False) -> str | None:
    """None when the config loads and its models can be built (and, with ``train_step``, a
    training step runs), else the one-line error."""
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        msg = str(exc)
        assert "\n" not in msg and path.name in msg, msg
        return msg
    try:
        if train_step:  # what the CLI would do next: load the data, build the models, take a step
            Trainer(cfg, None, quiet=True).train_step()
        else:
            build_models(cfg, torch.device("cpu"))
    except NerfspecError as exc:
        return str(exc)
    return None


def test_fuzz_configs(base_scene, tmp_path):
    rng = random.Random(7)
    base = base_config(base_scene, tmp_path / "out")
    errors, threads = 0, torch.get_num_threads()
    try:
        for i in range(CONFIG_VARIANTS):
            values = copy.deepcopy(base)
            mutations = mutate_config(values, rng)
            path = tmp_path / f"c{i}.toml"
            write_config_variant(path, values, rng)
            before = tree_hash(path)
            try:
                errors += load_config_outcome(path, train_step=True) is not None
            except Exception as exc:
                raise AssertionError(f"config variant {i} ({mutations}): {type(exc).__name__}: {exc}\n"
                                     f"{path.read_bytes()[:2000]!r}") from exc
            assert tree_hash(path) == before
    finally:
        torch.set_num_threads(threads)  # a variant may have changed train.threads
    assert errors > CONFIG_VARIANTS // 3


# -- the same kinds of variants through the real command line --------------------------------------------

def train_cli(cfg_path: Path, out: Path) -> CliResult:
    """``nerfspec train CONFIG --max-steps 1`` through the CLI's entry point, in this process."""
    return run_cli("train", cfg_path, "--max-steps", "1", "--set", f"output_dir={str(out)!r}")


def test_fuzz_through_the_cli(base_scene, tmp_path):
    rng = random.Random(99)
    cases = []
    for i in range(CLI_VARIANTS):
        root = tmp_path / f"s{i}"
        cfg_path = tmp_path / f"c{i}.toml"
        if i % 5 < 3:  # a damaged dataset with a good config
            mutations, downscale = make_dataset_variant(base_scene, root, rng)
            values = base_config(root, tmp_path / "out")
            values["data"]["downscale"] = downscale
            cfg_path.write_text(dump_toml(values))
            expected = load_dataset_outcome(root, downscale)
        else:  # a damaged config with a good dataset
            shutil.copytree(base_scene, root)
            values = base_config(root, tmp_path / "out")
            mutations = mutate_config(values, rng)
            write_config_variant(cfg_path, values, rng)
            expected = load_config_outcome(cfg_path)
            if expected is None and isinstance(values.get("data"), dict):
                expected = load_dataset_outcome(root, load_config(cfg_path).data.downscale)
        cases.append((i, mutations, root, cfg_path, expected, {**tree_hash(root), **tree_hash(cfg_path)}))

    results = [(case, train_cli(case[3], tmp_path / f"out{case[0]}")) for case in cases]
    refused = 0
    for (i, mutations, root, cfg_path, expected, before), proc in results:
        where = f"CLI variant {i} ({mutations}, expected {expected!r}):\n{proc.stderr[-3000:]}"
        assert "Traceback" not in proc.stderr, where
        assert proc.returncode in (0, 2), where
        if expected is not None:  # unusable input never exits 0
            assert proc.returncode == 2, where
        if proc.returncode == 2:
            last = re.split(r"[\r\n]+", proc.stderr.strip())[-1]
            assert last.startswith("error: "), where
            refused += 1
        assert {**tree_hash(root), **tree_hash(cfg_path)} == before, f"{where}\ninput modified"
    assert refused >= CLI_VARIANTS // 2
