"""scripts/bench_hashgrid.py: its sample generator, traffic model and a tiny run."""

from __future__ import annotations

import json

import torch

from tests.test_bench_train import load_script


def test_traffic_per_sample_counts_rows_and_lines():
    bench = load_script("bench_hashgrid")
    t = bench.traffic_per_sample(levels=16, features=2)
    # 8 corners x 16 levels x 2 floats: read in forward, read + written in backward
    assert t["useful"] == 3 * 8 * 16 * 2 * 4 + 2 * 16 * 2 * 4 + 24
    assert t["lines"] == 3 * 8 * 16 * 64 + 2 * 16 * 2 * 4 + 24


def test_nerf_like_samples_are_runs_along_rays_inside_the_box():
    bench = load_script("bench_hashgrid")
    x, d = bench.nerf_like_samples(160, torch.Generator().manual_seed(0), per_ray=16, step=0.01)
    assert x.shape == d.shape == (160, 3)
    assert x.abs().max() <= 1.5
    torch.testing.assert_close(d.norm(dim=-1), torch.ones(160))
    runs = x.view(10, 16, 3)
    steps = runs[:, 1:] - runs[:, :-1]
    torch.testing.assert_close(steps, 0.01 * d.view(10, 16, 3)[:, 1:], atol=1e-5, rtol=0)
    # the runs straddle the unit sphere where the ray meets it
    r = runs.norm(dim=-1)
    hits = (r.min(dim=1).values < 1) & (r.max(dim=1).values > 1)
    assert hits.float().mean() > 0.5


def test_tiny_run_reports_every_figure(tmp_path, capsys):
    bench = load_script("bench_hashgrid")
    out = tmp_path / "bench.json"
    bench.main(["--points", "512", "--threads", "1", "--repeats", "1", "--levels", "4",
                "--log2-table-size", "10", "--base-resolution", "4", "--max-resolution", "64",
                "--implementations", "cpp,torch", "--json", str(out)])
    text = capsys.readouterr().out
    assert "copy bandwidth" in text and "samples/s" in text and "lazy_adam" in text
    record = json.loads(out.read_text())
    impls = {r["impl"] for r in record["runs"]}
    assert "torch" in impls and len(record["runs"]) == 2 * len(impls)
    assert all(r["encoding_sps"] > 0 and r["field_sps"] > 0 for r in record["runs"])
    assert record["adam"]["1"]["adam_foreach"] > 0 and 0 < record["adam"]["1"]["touched_fraction"] <= 1
