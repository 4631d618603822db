"""Shared fixtures: a tiny generated scene and a config that trains on it in seconds."""

from __future__ import annotations

import io
import json
import os
import shutil
import traceback
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from nerfspec.config import config_from_dict


def lego_root() -> Path | None:
    """The real Blender lego scene when NERFSPEC_DATA (or ../shared/data) holds it."""
    base = os.environ.get("NERFSPEC_DATA")
    candidates = [Path(base)] if base else []
    candidates.append(Path(__file__).resolve().parents[2] / "shared" / "data")
    for c in candidates:
        root = c / "nerf_synthetic" / "lego"
        if (root / "transforms_train.json").is_file():
            return root
    return None


@pytest.fixture(scope="session")
def tiny_scene(tmp_path_factory) -> Path:
    """The default scene at 32x32 with 20 training views."""
    from nerfspec.synth import make_tiny_scene

    return make_tiny_scene(tmp_path_factory.mktemp("scene") / "default", size=32, views=20)


@pytest.fixture(scope="session")
def compared(tiny_scene, tmp_path_factory) -> dict:
    """One ``nerfspec compare`` of none and gauss (sigma swept over 1 and 4), 12 steps a run, for
    the tests of its outputs and of its report page: {"out", "argv", "base"} (the base config)."""
    from nerfspec.cli import main
    from nerfspec.config import dump_toml

    root = tmp_path_factory.mktemp("compare")
    base = tiny_config_dict(tiny_scene, root / "unused")
    base.pop("name"), base.pop("output_dir"), base["data"].pop("root")
    base["train"]["threads"] = 1
    (root / "base.toml").write_text(dump_toml(base))
    out = root / "cmp"
    argv = ["compare", "--scene", str(tiny_scene), "--fields", "none,gauss", "--config", str(root / "base.toml"),
            "--steps", "12", "--sweep", "gauss.sigma=1,4", "--out", str(out), "--curve-points", "3",
            "--eval-every", "4", "--set", "field.width=32", "--quiet"]
    assert main(argv) == 0
    return {"out": out, "argv": argv, "base": root / "base.toml"}


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """Downscaled capture images are cached under $XDG_CACHE_HOME: one cache per test."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def tiny_config_dict(scene: Path, out: Path, **train) -> dict:
    """A small, fast field and sampler on ``scene``; runs go under ``out``."""
    return {
        "name": "tiny",
        "output_dir": str(out),
        "data": {"root": str(scene)},
        "field": {"encoding": "gauss", "depth": 2, "width": 64, "precision": "fp32",
                  "gauss": {"features": 32, "sigma": 2.0}},
        "sampler": {"grid_resolution": 16, "render_step_size": 0.05, "warmup_steps": 16,
                    "update_every": 8},
        "train": {"max_steps": 60, "rays_per_step": 256, "lr": 5e-3, "lr_final": 5e-4,
                  "warmup_steps": 10, "val_every": 0, "checkpoint_every": 20, "log_every": 10,
                  "threads": 2, **train},
        "eval": {"every": 4},
    }


@pytest.fixture
def tiny_config(tiny_scene, tmp_path):
    def make(**train):
        return config_from_dict(tiny_config_dict(tiny_scene, tmp_path / "outputs", **train))
    return make


def edited(capture: Path, tmp_path: Path, edit) -> Path:
    """A copy of ``capture`` whose transforms.json went through ``edit(meta)``."""
    dst = tmp_path / "edited"
    shutil.copytree(capture, dst)
    meta = json.loads((dst / "transforms.json").read_text())
    edit(meta)
    (dst / "transforms.json").write_text(json.dumps(meta))
    return dst


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def run_cli(*args) -> CliResult:
    """``nerfspec ARGS`` through the CLI's entry point (``nerfspec.cli.main``) in this process:
    exit code, stdout and stderr as a subprocess would give them (an uncaught exception is a
    traceback on stderr and code 1), without a Python start-up per call. torch's thread count,
    which a config's train.threads sets, is restored."""
    import torch

    from nerfspec.cli import main

    out, err = io.StringIO(), io.StringIO()
    threads = torch.get_num_threads()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse's errors and --help leave through sys.exit
            code = exc.code if isinstance(exc.code, int) else 1
        except Exception:  # noqa: BLE001 - what the console would show
            traceback.print_exc()
            code = 1
        finally:
            torch.set_num_threads(threads)
    return CliResult(code, out.getvalue(), err.getvalue())


# pytest markers (registered in pyproject.toml) by test module: run a quick pass with
# pytest -m "not slow and not browser"
MODULE_MARKS = {
    "test_report_browser": ("browser",), "test_viewer_browser": ("browser",), "test_kernels": ("gpu",),
    "test_blender_fuzz": ("slow",), "test_transforms_json_fuzz": ("slow",), "test_bench_train": ("slow",),
    "test_bench_hashgrid": ("slow",), "test_render_background": ("slow",), "test_compare": ("slow",),
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        for mark in MODULE_MARKS.get(item.module.__name__.rsplit(".", 1)[-1], ()):
            item.add_marker(getattr(pytest.mark, mark))


# the unit sphere's field and training (sphere_run): a surface from 200 steps
SPHERE_FIELD = {"view_dirs": False, "density_activation": "trunc_exp", "gauss": {"features": 32, "sigma": 1.0}}
SPHERE_TRAIN = {"lr": 1e-2, "lr_final": 5e-3, "rays_per_step": 512, "max_steps": 200, "checkpoint_every": 200}


@pytest.fixture(scope="session")
def sphere_run(tmp_path_factory):
    """The unit sphere (scenes/sphere.toml) at 32x32, 20 views, trained briefly (once: the mesh,
    tsdf and video tests share it)."""
    from nerfspec.synth import make_tiny_scene
    from nerfspec.train import train

    base = tmp_path_factory.mktemp("sphere")
    scene = make_tiny_scene(base / "scene", size=32, views=20, scene="sphere")
    cfg = tiny_config_dict(scene, base / "outputs")
    cfg["name"] = "sphere"
    cfg["field"].update(SPHERE_FIELD)
    cfg["train"].update(SPHERE_TRAIN)
    return train(config_from_dict(cfg), quiet=True).run_dir
