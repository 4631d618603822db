"""scripts/bench_train.py runs on a tiny config and accounts for the whole step."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from nerfspec.config import dump_toml
from tests.conftest import tiny_config_dict


def load_script(name: str):
    path = Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_timed_density_accumulates_time_and_passes_values():
    bench = load_script("bench_train")
    calls = bench.TimedDensity(lambda x: 2 * x)
    assert calls(3) == 6 and calls(1) == 2
    assert calls.seconds > 0


def test_bench_train_reports_shares_that_add_up(tiny_scene, tmp_path, capsys):
    bench = load_script("bench_train")
    cfg = tmp_path / "tiny.toml"
    cfg.write_text(dump_toml(tiny_config_dict(tiny_scene, tmp_path / "out")))
    bench.main([str(cfg), "--warmup", "3", "--steps", "3"])
    out = capsys.readouterr().out
    train = float(re.search(r"training pass\): ([\d.]+)%", out).group(1))
    queries = float(re.search(r"no grad\): ([\d.]+)%", out).group(1))
    outside = float(re.search(r"batching, optimiser\): (-?[\d.]+)%", out).group(1))
    assert 0 < train < 100 and 0 < queries < 100
    assert abs(train + queries + outside - 100) < 0.2
    assert "GFLOP/s" in out and "samples/s" in out
