"""The fit tasks end to end on tiny targets (seconds): image regression, shape occupancy with
mesh export, sweeps, resumption, the report files, and one-line CLI errors."""

from __future__ import annotations

import json
import math

import imageio.v3 as iio
import numpy as np
import pytest
import torch
import trimesh

from nerfspec.cli import main
from nerfspec.config import RFFCAConfig
from nerfspec.fit.experiment import FitSpec, choose_scale, run_experiment
from nerfspec.fit.image_task import ImageSettings, fit_image
from nerfspec.fit.optimise import curve_steps, learning_rate
from nerfspec.metrics import psnr_from_mse

SMALL_CA = RFFCAConfig(base_features=16, octaves=2, token_dim=8, dim=32, heads=4, blocks=1)


def smooth_image(size=16):
    v = torch.arange(size) / size
    yy, xx = torch.meshgrid(v, v, indexing="ij")
    return torch.stack([0.5 + 0.3 * torch.cos(2 * math.pi * xx), 0.5 + 0.3 * torch.sin(2 * math.pi * yy),
                        0.5 + 0.2 * torch.cos(2 * math.pi * (xx + yy))], dim=-1)


def test_curve_steps_and_learning_rate():
    assert curve_steps(10, 3) == [3, 7, 10] and curve_steps(2, 5) == [1, 2]
    assert learning_rate(0, 100, 1e-3, 0.01) == pytest.approx(1e-3)
    assert learning_rate(50, 100, 1e-3, 0.01) == pytest.approx(1e-4)


def test_image_fit_learns_a_smooth_image_and_scores_the_held_out_pixels():
    img = smooth_image()
    row, pred = fit_image(img, "basic", 1.0, ImageSettings(steps=150, lr=5e-3, depth=2, width=64,
                                                          curve_points=3, progress=False, precision="fp32"))
    test = ~((torch.arange(16)[:, None] % 2 == 0) & (torch.arange(16)[None, :] % 2 == 0))
    mse = float(((pred - img)[test] ** 2).mean())
    assert row["test_psnr"] == pytest.approx(float(psnr_from_mse(mse)), abs=1e-4)
    assert row["test_psnr"] > 30.0  # one cycle per unit is exactly what basic represents
    assert [p["step"] for p in row["curve"]] == [50, 100, 150]
    assert row["curve"][-1]["test_psnr"] > row["curve"][0]["test_psnr"]
    # the band powers of the full-image residual add up to its MSE
    full_mse = float(((pred - img) ** 2).mean())
    assert sum(row["curve"][-1]["band_power"]) == pytest.approx(full_mse, rel=1e-4)


def test_rffca_image_fit_with_afe_injects_tokens():
    img = smooth_image()
    ca = RFFCAConfig(**{**SMALL_CA.__dict__, "afe_at": [0.5], "afe_tokens": 2})
    row, _ = fit_image(img, "rffca", 0.5, ImageSettings(steps=10, depth=2, width=32, curve_points=1,
                                                        progress=False, rffca=ca, precision="fp32"))
    assert len(row["afe"]) == 1 and row["afe"][0]["step"] == 5 and 1 <= len(row["afe"][0]["freqs"]) <= 2


def test_choose_scale_by_mean_validation_metric():
    rows = [{"scale": 1, "m": 10.0}, {"scale": 1, "m": 12.0}, {"scale": 2, "m": 11.5}, {"scale": 2, "m": 11.0}]
    best, table = choose_scale(rows, "m")
    assert best == 2 and table[0] == {"value": 1, "val": 11.0, "runs": 2}  # 11.25 beats 11.0


def write_images(folder, n=2, size=16):
    folder.mkdir()
    rng = np.random.default_rng(0)
    for k in range(n):
        img = (smooth_image(size).numpy() * 255).astype(np.uint8)
        img[rng.integers(0, size, 5), rng.integers(0, size, 5)] = 255
        iio.imwrite(folder / f"im{k}.png", img)
    return folder


def test_fit_image_experiment_end_to_end(tmp_path):
    src = write_images(tmp_path / "imgs")
    val = write_images(tmp_path / "val", 1)
    out = tmp_path / "out"
    spec = FitSpec(task="image", sources=[str(src)], val_sources=[str(val)], out=str(out), steps=6,
                   sweeps={"gauss": [1.0, 2.0], "pe": [4.0], "rffca": [1.0]}, size=16, depth=2, width=16,
                   features=8, curve_points=2, rffca=SMALL_CA, quiet=True, precision="fp32")
    res = run_experiment(spec, log=lambda *a: None)
    assert {r["mapping"] for r in res["runs"] if r["split"] == "test"} == {"none", "basic", "pe", "gauss", "rffca"}
    assert res["sweeps"]["imgs"]["gauss"]["chosen"] in (1.0, 2.0)
    data = json.loads((out / "results.json").read_text())
    assert data["metric"] == "test_psnr" and len(data["summary"]) == 5
    assert all(e["paper"] is None for e in data["summary"])  # a user folder has no paper column
    for name in ("report.md", "results.csv", "curves_imgs.png", "sweeps_imgs.png", "spectra_imgs.png",
                 "crops_imgs.png"):
        assert (out / name).is_file(), name
    before = (out / "runs" / "test_none_im0.json").stat().st_mtime_ns
    run_experiment(spec, log=lambda *a: None)  # resumes: finished runs are reused
    assert (out / "runs" / "test_none_im0.json").stat().st_mtime_ns == before
    spec.lr = 5e-3  # another protocol: the run is redone
    run_experiment(spec, log=lambda *a: None)
    row = json.loads((out / "runs" / "test_none_im0.json").read_text())
    assert row["settings"]["lr"] == 5e-3


def test_fit_shape_end_to_end_with_mesh_export(tmp_path):
    mesh = trimesh.creation.icosphere(subdivisions=3, radius=0.5)
    mesh.export(tmp_path / "ball.ply")
    out = tmp_path / "out"
    rc = main(["fit", "shape", str(tmp_path / "ball.ply"), "--fields", "none,gauss", "--steps", "200",
               "--sweep", "gauss=2", "--batch", "512", "--pool", "8192", "--test-points", "2048",
               "--depth", "3", "--width", "64", "--features", "16", "--lr", "5e-3", "--curve-points", "2",
               "--mesh-resolution", "24", "--out", str(out), "--quiet", "--precision", "fp32"])
    assert rc == 0
    data = json.loads((out / "results.json").read_text())
    by = {e["mapping"]: e for e in data["summary"]}
    assert by["gauss"]["paper"] == 0.973 and 0.0 < by["none"]["mean"] <= 1.0
    test = {r["mapping"]: r for r in data["runs"] if r["split"] == "test"}
    assert test["gauss"]["iou_uniform"] > 0.85  # a ball: the bulk is right after 200 steps
    exported = trimesh.load(out / "meshes" / "gauss_ball.ply")
    assert len(exported.faces) > 0
    radius = np.linalg.norm(exported.vertices, axis=1).mean()  # back in the file's units
    assert 0.35 < radius < 0.65


@pytest.mark.parametrize("argv, message", [
    (["fit", "image", "nope_dir", "--size", "8"], "no such image"),
    (["fit", "image", "text", "--fields", "none,fourier"], "--fields"),
    (["fit", "image", "text", "--size", "7"], "--size"),
    (["fit", "image", "text", "--sweep", "none=1,2"], "--sweep none"),
    (["fit", "image", "text", "--set", "train.lr=1"], "field.rffca"),
    (["fit", "image", "text", "--set", "field.rffca.variant=paper"], "field.rffca.variant"),
    (["fit", "shape", "missing.ply"], "no such mesh"),
])
def test_fit_cli_errors_are_one_line(argv, message, capsys, tmp_path):
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]


def test_hashgrid_mapping_is_3d_only():
    from nerfspec.errors import ConfigError
    from nerfspec.fit.networks import build_network

    net = build_network("hashgrid", 3, 1, 64.0, depth=2, width=16, precision="fp32")
    assert net(torch.rand(5, 3)).shape == (5, 1)
    with pytest.raises(ConfigError, match="hashgrid takes 3D"):
        build_network("hashgrid", 2, 3, 64.0)
