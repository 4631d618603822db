"""Data-parallel training with 2 CPU processes over gloo, through the real CLI."""

import subprocess
import sys

from nerfspec.config import dump_toml
from nerfspec.models import load_run
from nerfspec.run import checkpoint_paths
from tests.conftest import tiny_config_dict


def test_two_process_gloo_training(tiny_scene, tmp_path):
    cfg = tiny_config_dict(tiny_scene, tmp_path / "out", max_steps=12, checkpoint_every=6, threads=1)
    cfg["name"] = "ddp"
    path = tmp_path / "ddp.toml"
    path.write_text(dump_toml(cfg))
    proc = subprocess.run([sys.executable, "-m", "nerfspec", "train", str(path), "--gpus", "2"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # gradients were averaged: both ranks end with bit-identical weights
    assert "2 ranks, weights identical across ranks: True" in proc.stdout
    assert proc.stdout.count("trained 12 steps") == 1  # only rank 0 reports and writes
    run = load_run(tmp_path / "out" / "ddp")
    assert run.step == 12 and len(checkpoint_paths(run.run_dir)) >= 1
