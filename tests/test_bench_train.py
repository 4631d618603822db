"""scripts/bench_train.py: its accounting, and a run on tiny configs side by side."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from nerfspec.config import dump_toml
from tests.conftest import tiny_config_dict


def load_script(name: str):
    path = Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_timed_wrapper_accumulates_time_and_passes_values():
    bench = load_script("bench_train")
    calls = bench.Timed(lambda x: 2 * x)
    assert calls(3) == 6 and calls(1) == 2 and calls.last == 2
    assert calls.seconds > 0


def test_shares_add_up():
    bench = load_script("bench_train")
    totals = {"update": 1.0, "batch": 0.5, "sample": 2.0, "optim": 0.5, "queries": 1.5, "field": 4.0}
    s = bench.shares(totals, 10.0)
    assert s["training_pass"] == pytest.approx(60.0)
    assert s["field"] == pytest.approx(40.0) and s["queries"] == pytest.approx(15.0)
    assert s["outside_field"] == pytest.approx(45.0)
    assert sum(s[k] for k in bench.PARTS) == pytest.approx(100.0)


def test_bench_train_prints_configs_side_by_side(tiny_scene, tmp_path, capsys):
    bench = load_script("bench_train")
    paths = []
    for enc in ("gauss", "pe"):
        values = tiny_config_dict(tiny_scene, tmp_path / "out")
        values["field"]["encoding"] = enc
        path = tmp_path / f"tiny_{enc}.toml"
        path.write_text(dump_toml(values))
        paths.append(str(path))
    bench.main(paths + ["--warmup", "3", "--steps", "3"])
    out = capsys.readouterr().out
    header = [line for line in out.splitlines() if "tiny_gauss.toml" in line and "tiny_pe.toml" in line]
    assert header, out
    row = next(line for line in out.splitlines() if line.startswith("encoding"))
    assert row.split()[1:] == ["gauss", "pe"]
    for key in ("samples_per_s", "field fwd+bwd (training pass) %", "density queries, no grad %"):
        cells = next(line for line in out.splitlines() if line.startswith(key))[34:].split()
        assert len(cells) == 2 and all(float(c.replace(",", "")) >= 0 for c in cells), key
    assert re.search(r"machine GEMM \(cpu\): float32 [\d.]+ GFLOP/s", out)


def test_gpu_path_step_stays_within_its_launch_and_wait_ceilings(tiny_scene):
    """lego_hashgrid_gpu.toml's step on the GPU's code path (smaller tables and batch on a tiny
    scene, which change sizes, not the ops; the real grid and cells per update): <= 300 ops and
    <= 2 host waits (the marching op's allocation read and the pruned samples' index), <= 600 ops
    with a grid update whose own share is a few large ops (<= 120: its 2^19 cells' densities in
    one call), and a rendered chunk of 256 rays in <= 4 waits (marching's and one per pass)."""
    from nerfspec.render.grid import GPU_RENDER_PASSES

    bench = load_script("bench_train")
    config = Path(__file__).resolve().parents[1] / "configs" / "lego_hashgrid_gpu.toml"
    counts = bench.count(str(config), [f"data.root={tiny_scene}", "train.rays_per_step=64",
                                       "train.max_rays_per_step=64", "field.hashgrid.log2_table_size=15"], 1, 256)
    step, update, render = counts["step"], counts["grid_update_step"], counts["render_256_rays"]
    assert step.ops <= 300 and step.waits <= 2, step.summary()
    assert update.ops <= 600 and update.ops - step.ops <= 120 and update.waits <= 2, update.summary()
    assert render.waits <= 1 + GPU_RENDER_PASSES <= 4 and render.ops <= 400, render.summary()


def test_next_counted_step_skips_log_steps_and_finds_updates():
    bench = load_script("bench_train")
    assert bench.next_step(0, 16, 50, update=False) == 1
    assert bench.next_step(1, 16, 50, update=True) == 16
    assert bench.next_step(33, 16, 50, update=True) == 48
    assert bench.next_step(48, 16, 50, update=False) == 50  # 49 would be a log step (49 + 1 = 50)
    assert bench.next_step(17, 16, 50, update=True) == 32


def test_timed_waits_for_the_device_before_each_clock_read():
    bench = load_script("bench_train")
    events = []
    timed = bench.Timed(lambda: events.append("call"), sync=lambda: events.append("sync"))
    timed()
    assert events == ["sync", "call", "sync"]
    assert bench.device_sync("cpu")() is None
