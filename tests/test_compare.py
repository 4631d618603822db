"""nerfspec compare: spectrum maths against closed forms, the report's summaries, and the whole
command end to end on a tiny scene (files, rows, PNGs, finished runs not redone)."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from nerfspec import spectrum
from nerfspec.cli import main
from nerfspec.compare import (
    CompareSpec,
    curve_index,
    curve_views,
    parse_seeds,
    parse_sweep,
    plan_runs,
    reindex_curve,
    run_status,
)
from nerfspec.config import ConfigError, config_from_dict
from nerfspec.compare import choose_sweeps, mark_selected, mean_curve
from nerfspec.spectrum import power_db

from tests.conftest import tiny_config_dict

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# -- spectrum: closed forms ---------------------------------------------------------------

def test_radial_frequency_axes_and_corner():
    f = spectrum.radial_frequency(8, 16)
    assert f.shape == (8, 16)
    assert f[0, 0] == 0.0
    assert f[0, 1] == pytest.approx(1 / 16) and f[1, 0] == pytest.approx(1 / 8)
    assert f[4, 8] == pytest.approx(math.sqrt(0.5))  # Nyquist on both axes
    assert f.max() == pytest.approx(math.sqrt(0.5))


def test_power_spectrum_parseval_and_constant():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 20, 3))
    assert spectrum.power_spectrum(x).sum() == pytest.approx((x ** 2).mean(), rel=1e-10)
    p = spectrum.power_spectrum(np.full((8, 8), 0.3))
    assert p[0, 0] == pytest.approx(0.09) and np.abs(p).sum() == pytest.approx(0.09)


@pytest.mark.parametrize("cycles,axis", [(2, 1), (5, 0), (12, 1)])
def test_sinusoid_power_lands_in_its_band(cycles, axis):
    """a sin(2 pi k x / N) has mean square a^2 / 2, all at radial frequency k / N."""
    n, a = 64, 0.2
    coord = np.arange(n) / n
    wave = a * np.sin(2 * np.pi * cycles * coord + 0.3)
    img = np.broadcast_to(wave[None, :] if axis == 1 else wave[:, None], (n, n))
    edges = spectrum.default_band_edges(n, n)
    bp = spectrum.band_power(spectrum.power_spectrum(img), edges)
    band = int(spectrum.band_index(np.array(cycles / n), edges))
    assert bp[band] == pytest.approx(a ** 2 / 2, rel=1e-9)
    assert np.delete(bp, band).sum() == pytest.approx(0.0, abs=1e-12)


def test_residual_band_power_sums_to_mse():
    rng = np.random.default_rng(1)
    pred, target = rng.random((16, 16, 3)), rng.random((16, 16, 3))
    bp = spectrum.residual_band_power(pred, target, spectrum.default_band_edges(16, 16))
    assert bp.sum() == pytest.approx(((pred - target) ** 2).mean(), rel=1e-10)
    assert (bp >= 0).all()


def test_white_noise_is_flat():
    """White noise of variance s^2: E P = s^2 / (H W) in every bin, so every band's radial
    average is close to it (averaged over images to tame the variance)."""
    rng = np.random.default_rng(2)
    n, s, reps = 64, 0.5, 40
    edges = spectrum.default_band_edges(n, n)
    avg = np.mean([spectrum.radial_average(spectrum.power_spectrum(rng.normal(0, s, (n, n))), edges)
                   for _ in range(reps)], axis=0)
    expected = s ** 2 / n ** 2
    # the DC band holds one bin (an exponential variable: loose); the others hold many
    assert avg[0] == pytest.approx(expected, rel=0.6)
    np.testing.assert_allclose(avg[1:], expected, rtol=0.15)


def test_band_edges_and_labels():
    e = spectrum.octave_band_edges(4)
    np.testing.assert_allclose(e[:-1], [0, 1 / 16, 1 / 8, 1 / 4])
    assert math.isinf(e[-1])
    assert spectrum.band_labels(e) == [">16 px", "8-16 px", "4-8 px", "<4 px"]
    e32 = spectrum.default_band_edges(32, 32)
    assert e32[1] == pytest.approx(1 / 32)  # the lowest band holds DC only
    assert len(spectrum.default_band_edges(800, 800)) == 7  # capped at 6 bands
    assert spectrum.band_index(np.array([0.0, 1 / 16, 0.49, 0.7]), e).tolist() == [0, 1, 3, 3]


# -- plan, status, curve bookkeeping ------------------------------------------------------

def test_parse_sweep_and_seeds():
    s = parse_sweep("gauss.sigma=1,2,4.5")
    assert (s.key, s.values) == ("field.gauss.sigma", [1, 2, 4.5])
    assert parse_sweep("field.rffca.sigma=0.5").key == "field.rffca.sigma"
    for bad in ("gauss.sigmaa=1", "mlp.width=3", "gauss.sigma=a", "gauss.sigma=1,1", "sigma"):
        with pytest.raises(ConfigError):
            parse_sweep(bad)
    assert parse_seeds("3") == [0, 1, 2] and parse_seeds("4,7") == [4, 7]
    with pytest.raises(ConfigError):
        parse_seeds("0")


def test_plan_names_and_configs(tiny_scene, tmp_path):
    spec = CompareSpec(scene=str(tiny_scene), fields=["none", "gauss"], out=str(tmp_path),
                       steps=10, seeds=[0, 1], sweeps=[parse_sweep("gauss.sigma=1,4")],
                       overrides=["field.width=32"]).validate()
    plan = plan_runs(spec)
    assert [r.name for r in plan] == ["none_s0", "none_s1", "gauss_sigma1_s0", "gauss_sigma1_s1",
                                      "gauss_sigma4_s0", "gauss_sigma4_s1"]
    r = plan[-1]
    assert r.cfg.field.gauss.sigma == 4 and r.cfg.train.seed == 1 and r.cfg.train.max_steps == 10
    assert r.cfg.field.width == 32 and r.run_dir == tmp_path / "runs" / "gauss_sigma4_s1"
    with pytest.raises(ConfigError):
        CompareSpec(scene=str(tiny_scene), fields=["pe"], sweeps=[parse_sweep("gauss.sigma=1")]).validate()
    minutes = plan_runs(CompareSpec(scene=str(tiny_scene), fields=["pe"], out=str(tmp_path), minutes=0.5))
    assert minutes[0].cfg.train.max_minutes == 0.5 and minutes[0].cfg.train.max_steps >= 10 ** 9


def test_curve_points_follow_the_budget():
    cfg = config_from_dict({"train": {"max_steps": 100}})
    assert [curve_index(cfg, s, 0.0, 4) for s in (1, 24, 25, 99, 100)] == [0, 0, 1, 3, 4]
    timed = config_from_dict({"train": {"max_steps": 10 ** 9, "max_minutes": 1.0}})
    assert curve_index(timed, 5, 30.0, 4) == 2
    assert curve_views(7, 0) == [0, 2, 4, 6] and curve_views(7, 3) == [0, 3, 6]
    # a doubled budget re-spaces recorded points: step 50 of 100 was point 4 of 4, now 2 of 4
    longer = config_from_dict({"train": {"max_steps": 200}})
    pts = [{"index": 2, "step": 50, "elapsed_s": 1.0}, {"index": 4, "step": 100, "elapsed_s": 2.0}]
    assert [p["index"] for p in reindex_curve(pts, longer, 4)] == [1, 2]


def test_sweep_choice_uses_val_not_test():
    rows = [{"field": "gauss", "sweep": "gauss.sigma", "value": v, "seed": s, "val_psnr": val,
             "test_psnr": test, "curve": []}
            for v, s, val, test in [(1, 0, 20.0, 25.0), (1, 1, 21.0, 25.0), (4, 0, 22.0, 19.0),
                                    (4, 1, 22.5, 19.0)]]
    rows.append({"field": "pe", "sweep": None, "value": None, "seed": 0, "val_psnr": 1.0,
                 "test_psnr": 1.0, "curve": []})
    c = choose_sweeps(rows)
    assert c["gauss"]["value"] == 4 and c["gauss"]["by"] == "val" and "pe" not in c
    assert c["gauss"]["table"][0]["val_psnr"] == pytest.approx(20.5)
    assert [r["selected"] for r in mark_selected(rows, c)] == [False, False, True, True, True]


def test_mean_curve_over_seeds():
    def pts(idx, psnr):
        return [{"index": i, "step": 10 * i, "elapsed_s": float(i), "psnr": p, "band_power": [p, 2 * p]}
                for i, p in zip(idx, psnr)]

    c = mean_curve([{"curve": pts([1, 2, 3], [10, 12, 14])}, {"curve": pts([1, 2], [12, 14])}])
    assert c["index"] == [1, 2] and c["psnr"] == [11.0, 13.0]
    assert c["band_power"] == [[11.0, 13.0], [22.0, 26.0]]  # (B, P)
    assert power_db(0.01) == pytest.approx(-20.0)


# -- end to end ---------------------------------------------------------------------------

def test_compare_end_to_end_and_rerun(compared, tiny_scene, tmp_path, capsys):
    out, argv, base = compared["out"], compared["argv"], compared["base"]
    names = ["none_s0", "gauss_sigma1_s0", "gauss_sigma4_s0"]
    for f in ("report.md", "results.csv", "results.json", "report.html"):
        assert (out / f).is_file()
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [r["run"] for r in rows] == names
    assert all(int(r["steps"]) == 12 and float(r["samples_per_s"]) > 0 and int(r["params"]) > 0 for r in rows)
    for r in rows:  # the table carries each run's own evaluation
        evaluated = json.loads((out / "runs" / r["run"] / "eval_test" / "metrics.json").read_text())
        assert float(r["test_psnr"]) == pytest.approx(evaluated["psnr"], abs=0.01)
    assert len({r["test_psnr"] for r in rows}) == 3
    results = json.loads((out / "results.json").read_text())
    assert [f["field"] for f in results["fields"]] == ["none", "gauss"]
    assert results["sweeps"]["gauss"]["by"] == "val"
    for run in results["runs"]:
        assert [p["index"] for p in run["curve"]] == [1, 2, 3]
        assert [p["step"] for p in run["curve"]] == [4, 8, 12]
        assert len(run["curve"][0]["band_power"]) == len(results["band_edges"]) - 1
    pngs = sorted(p.name for p in out.glob("*.png"))
    for name in ("psnr_vs_time.png", "psnr_vs_steps.png", "spectrum_none.png", "spectrum_gauss.png",
                 "sweep_gauss_sigma.png", "spectrum_final.png"):
        assert name in pngs
    assert all((out / p).read_bytes()[:8] == PNG_MAGIC for p in pngs)
    report = (out / "report.md").read_text()
    assert "| gauss (sigma=" in report and "## Residual spectrum" in report and "sweep_gauss_sigma.png" in report

    # a rerun redoes nothing: checkpoints and metrics keep their mtimes
    def stamps():
        files = [p for n in names for p in (out / "runs" / n).rglob("*") if p.suffix in (".pt", ".json")]
        return {str(p): p.stat().st_mtime_ns for p in files}

    before = stamps()
    capsys.readouterr()
    assert main(argv) == 0
    assert capsys.readouterr().out.count("finished, skipped") == 3
    assert stamps() == before

    # a run whose evaluation is missing is only evaluated, not trained again
    (out / "runs" / "none_s0" / "eval_test" / "metrics.json").unlink()
    ckpts = {str(p): p.stat().st_mtime_ns for p in (out / "runs" / "none_s0" / "checkpoints").glob("*.pt")}
    assert main(argv) == 0
    assert (out / "runs" / "none_s0" / "eval_test" / "metrics.json").is_file()
    assert {str(p): p.stat().st_mtime_ns for p in (out / "runs" / "none_s0" / "checkpoints").glob("*.pt")} == ckpts

    # a longer budget turns finished runs into ones to resume; another config is refused
    spec = CompareSpec(scene=str(tiny_scene), fields=["none"], out=str(out), base_config=str(base),
                       overrides=["field.width=32"], steps=16)
    assert run_status(plan_runs(spec)[0])[0] == "train"
    spec.overrides = ["field.width=48"]
    with pytest.raises(Exception, match="different config"):
        run_status(plan_runs(spec)[0])

    # the curve's last point scores the final weights: evaluation of the curve's views agrees
    from nerfspec.evaluate import evaluate
    from nerfspec.models import load_run

    state = json.loads((out / "runs" / "gauss_sigma4_s0" / "compare.json").read_text())
    views = state["curve_views"]
    every = views[1] - views[0] if len(views) > 1 else 1000
    metrics = evaluate(load_run(out / "runs" / "gauss_sigma4_s0"), "test", every, out_dir=tmp_path / "curve_views",
                       quiet=True)
    assert [v["view"] for v in metrics["views"]] == views
    assert state["curve"][-1]["psnr"] == pytest.approx(metrics["psnr"], abs=1e-3)


def test_a_run_folder_without_config_is_replaced_and_others_are_left(tiny_scene, tmp_path, capsys):
    """OUT/runs/<name> without config.toml is what a run killed before it began leaves: compare
    replaces it. A folder of another name, and a finished run's folder, stay as they are."""
    out = tmp_path / "cmp"
    half = out / "runs" / "none_s0"
    half.mkdir(parents=True)
    (half / "leftover.txt").write_text("from a run that never started")
    other = out / "runs" / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep")
    argv = ["compare", "--scene", str(tiny_scene), "--fields", "none", "--steps", "2", "--out", str(out),
            "--curve-points", "1", "--eval-every", "10", "--set", "field.width=16", "--set", "train.threads=1",
            "--quiet"]
    assert main(argv) == 0
    assert not (half / "leftover.txt").exists() and (half / "config.toml").is_file()
    assert (half / "eval_test" / "metrics.json").is_file()
    assert (other / "notes.txt").read_text() == "keep"
    capsys.readouterr()
    (half / "mine.txt").write_text("added to a finished run")
    assert main(argv) == 0 and "finished, skipped" in capsys.readouterr().out
    assert (half / "mine.txt").is_file()
