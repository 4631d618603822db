"""nerfspec report, the Python side: TensorBoard scalars (resumed runs merged), error maps, assets,
run facts with their fallbacks, the page data of a run / several runs / a comparison, the HTML
shell, and one-line errors. The page in a real browser: test_report_browser.py."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import shutil

import numpy as np
import pytest
import trimesh

from nerfspec.cli import main
from nerfspec.config import config_from_dict, dump_toml
from nerfspec.errors import NerfspecError, OutputError
from nerfspec.report import images
from nerfspec.report.assets import AssetWriter, blob_script, data_uri, safe_name
from nerfspec.report.compare_data import shown_runs, spectrum_db
from nerfspec.report.events import event_file_order, merge_scalar_files, read_scalars
from nerfspec.report.html import json_for_html, render_html
from nerfspec.report.page import classify, write_html_report
from nerfspec.report.run_data import ply_header, run_data
from nerfspec.report.run_info import count_parameters, merge_info, run_info

from tests.conftest import tiny_config_dict


# -- a run folder made by hand: config, logs, evaluation, mesh, video (no training) ----------

def write_scalars(tb, points: dict[str, list[tuple[int, float]]]) -> None:
    from torch.utils.tensorboard import SummaryWriter

    w = SummaryWriter(str(tb))
    for tag, pts in points.items():
        for step, value in pts:
            w.add_scalar(tag, value, step)
    w.close()


def fake_run(scene, root, name="tiny", views=(0, 2), noise=0):
    """A run folder as train + eval + render + mesh leave it; renders are the ground truth
    (plus ``noise`` grey levels), so the page's error maps are known."""
    from nerfspec.data.blender import load_blender_split

    cfg = tiny_config_dict(scene, root)
    cfg["name"] = name
    run = root / name
    run.mkdir(parents=True)
    (run / "config.toml").write_text(dump_toml(cfg))
    write_scalars(run / "tb", {"train/loss": [(10, 0.05), (20, 0.02)], "train/psnr": [(10, 13.0), (20, 17.0)],
                               "val/psnr": [(20, 15.5)]})
    split = load_blender_split(scene, "test", 1)
    ev = run / "eval_test"
    ev.mkdir()
    per_view = []
    for k in views:
        gt = images.composite_uint8(split.images[k].numpy(), (1.0, 1.0, 1.0))
        render = np.clip(gt.astype(int) + noise, 0, 255).astype(np.uint8)
        (ev / f"r_{k}.png").write_bytes(images.png_bytes(render))
        per_view.append({"view": k, "psnr": 20.0 + k + 0.123456789, "ssim": 0.5 + k / 100})
    metrics = {"split": "test", "every": 2, "step": 20, "views": per_view,
               "psnr": float(np.mean([v["psnr"] for v in per_view])),
               "ssim": float(np.mean([v["ssim"] for v in per_view]))}
    (ev / "metrics.json").write_text(json.dumps(metrics))
    (run / "mesh").mkdir()
    box = trimesh.creation.box(extents=(1, 1, 1))
    box.visual.vertex_colors = np.tile([200, 30, 30, 255], (len(box.vertices), 1))
    (run / "mesh" / "mesh.ply").write_bytes(box.export(file_type="ply"))
    (run / "mesh" / "metrics.json").write_text(json.dumps({"chamfer_l1": 0.01, "fscore": 0.9, "iou": 0.8}))
    (run / "video").mkdir()
    (run / "video" / "orbit.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200_000))
    return run


def tree_digest(folder) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# -- TensorBoard scalars ------------------------------------------------------------------

def test_merge_scalar_files_newer_file_replaces_from_its_first_step():
    old = {"loss": [(10, 1.0, 0.5), (20, 2.0, 0.4), (30, 3.0, 0.3), (40, 4.0, 0.2)], "lr": [(10, 1.0, 1e-3)]}
    new = {"loss": [(30, 9.0, 0.35), (30, 9.5, 0.33), (50, 10.0, float("nan"))]}
    merged = merge_scalar_files([old, new])
    assert merged["loss"]["step"] == [10, 20, 30, 50]  # 40 came from the older file after the resume point
    assert merged["loss"]["value"] == [0.5, 0.4, 0.33, None]  # last value of a repeated step; NaN -> None
    assert merged["loss"]["wall"] == [1.0, 2.0, 9.5, 10.0]
    assert merged["lr"] == {"step": [10], "wall": [1.0], "value": [1e-3]}


def test_event_file_order_by_creation_time():
    from pathlib import Path

    names = ["events.out.tfevents.1700000100.host.9.10", "events.out.tfevents.1700000009.host.9.2", "notes.txt"]
    ordered = sorted((Path(n) for n in names), key=event_file_order)
    assert [p.name for p in ordered] == [names[1], names[0], "notes.txt"]


def test_read_scalars_of_a_resumed_run(tmp_path):
    tb = tmp_path / "tb"
    write_scalars(tb, {"train/loss": [(10, 0.5), (20, 0.4), (30, 0.3)], "train/psnr": [(10, 3.0), (20, 4.0)]})
    first = next(tb.glob("events.*"))
    stamp = int(first.name.split(".")[3])
    first.rename(tb / first.name.replace(str(stamp), str(stamp - 100)))  # written earlier
    write_scalars(tb, {"train/loss": [(20, 0.25), (40, 0.2)]})
    scalars, notes = read_scalars(tb)
    assert notes == []
    assert scalars["train/loss"]["step"] == [10, 20, 40]
    assert scalars["train/loss"]["value"] == pytest.approx([0.5, 0.25, 0.2])
    assert scalars["train/psnr"]["step"] == [10, 20]
    assert read_scalars(tmp_path / "missing") == ({}, [])


# -- pictures -------------------------------------------------------------------------------

def test_error_map_and_heatmap():
    a = np.zeros((4, 5, 3), np.uint8)
    b = a.copy()
    b[..., 0] = 255  # one channel off by 1: mean abs error 1/3
    b[0, 0] = 255  # all three channels: 1
    err = images.error_map(b, a)
    assert err.shape == (4, 5)
    assert err[0, 0] == pytest.approx(1.0) and err[1, 1] == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="differ in size"):
        images.error_map(a, np.zeros((4, 4, 3), np.uint8))
    hm = images.heatmap(np.array([[0.0, images.ERROR_VMAX, 1.0]]))
    assert hm.shape == (1, 3, 3) and hm.dtype == np.uint8
    assert (hm[0, 1] == hm[0, 2]).all()  # clipped above vmax
    assert int(hm[0, 0].sum()) < 120 and hm[0, 1, 0] > 2 * hm[0, 1, 2]  # dark at 0, red at vmax
    bar = images.colorbar(64, 5)
    assert bar.shape == (5, 64, 3) and (bar[0, 0] == hm[0, 0]).all() and (bar[0, -1] == hm[0, 1]).all()


def test_composite_uint8_is_the_eval_target():
    rgba = np.array([[[255, 0, 0, 255], [255, 0, 0, 0], [0, 0, 255, 128]]], np.uint8)
    out = images.composite_uint8(rgba, (1.0, 1.0, 1.0))
    a = 128 / 255
    assert out[0, 0].tolist() == [255, 0, 0] and out[0, 1].tolist() == [255, 255, 255]
    assert out[0, 2].tolist() == [round(255 * (1 - a)), round(255 * (1 - a)), 255]
    png = images.png_bytes(out)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


# -- assets -----------------------------------------------------------------------------------

def test_assets_inline_small_store_large_once_and_prune(tmp_path):
    page = tmp_path / "page.html"
    w = AssetWriter(page, inline_limit=100)
    assert w.add_bytes("a.png", b"x" * 10, "image/png") == data_uri(b"x" * 10, "image/png")
    big = bytes(range(256)) * 2
    url = w.add_bytes("big one?.bin", big, "application/octet-stream")
    assert url == "page_assets/big_one_.bin" and (tmp_path / url).read_bytes() == big
    assert w.add_bytes("other.bin", big, "application/octet-stream") == url  # same content, stored once
    src = tmp_path / "clip.mp4"
    src.write_bytes(b"v" * 500)
    assert (tmp_path / w.add_file(src, mime="video/mp4")).read_bytes() == b"v" * 500
    w.finish()
    # a second page at the same place drops what it no longer uses
    w2 = AssetWriter(page, inline_limit=100)
    w2.add_bytes("b.bin", b"y" * 300, "application/octet-stream")
    w2.finish()
    assert sorted(p.name for p in (tmp_path / "page_assets").iterdir()) == [".nerfspec-report", "b.bin"]
    # a folder this module did not write is left alone
    (tmp_path / "mine_assets").mkdir()
    (tmp_path / "mine_assets" / "keep.txt").write_text("x")
    with pytest.raises(OutputError, match="not written by nerfspec report"):
        AssetWriter(tmp_path / "mine.html")


def test_blob_script_round_trip_and_safe_names():
    data = bytes(range(256))
    js = blob_script('mesh "a"', data).decode()
    m = re.fullmatch(r'\(window\.NERFSPEC_BLOBS=window\.NERFSPEC_BLOBS\|\|\{\}\)\[(".*")\]="([A-Za-z0-9+/=]*)";\n', js)
    assert m and json.loads(m.group(1)) == 'mesh "a"' and base64.b64decode(m.group(2)) == data
    assert safe_name("../a b/é.png") == "_a_b__.png" and safe_name("...") == "asset"


def test_ply_header():
    box = trimesh.creation.box()
    assert ply_header(box.export(file_type="ply")) == {"format": "binary_little_endian", "vertex": 8, "face": 12,
                                                       "colours": False}
    box.visual.vertex_colors = np.tile([1, 2, 3, 255], (8, 1))
    assert ply_header(box.export(file_type="ply"))["colours"] is True
    with pytest.raises(ValueError, match="not a PLY"):
        ply_header(b"solid stl")


# -- run facts ---------------------------------------------------------------------------------

def test_merge_info_prefers_run_info_then_fallbacks():
    recorded = {"device": "cuda", "precision": None, "extra": 1}
    out = merge_info(recorded, {"device": ("cpu", "config"), "precision": ("fp32", "config"), "step": (None, "tb")})
    assert out == {"device": {"value": "cuda", "source": "run_info"},
                   "precision": {"value": "fp32", "source": "config"},
                   "extra": {"value": 1, "source": "run_info"}}
    assert list(merge_info({"z": 1, "step": 3}, {})) == ["step", "z"]


def test_run_info_fallbacks_without_run_info_json(tiny_scene, tmp_path):
    cfg = config_from_dict(tiny_config_dict(tiny_scene, tmp_path))
    run = tmp_path / "tiny"
    run.mkdir()
    scalars = {"train/loss": {"step": [10, 30], "value": [1.0, 0.5]},
               "train/elapsed_min": {"step": [10, 30], "value": [0.5, 1.5]}}
    info = run_info(run, cfg, scalars, (32, 32))
    assert info["step"] == {"value": 30, "source": "tensorboard"}
    assert info["elapsed_s"] == {"value": pytest.approx(90.0), "source": "tensorboard"}
    assert info["device"] == {"value": cfg.train.device, "source": "config"}
    assert info["parameters"]["value"] == count_parameters(cfg) > 1000
    assert info["dataset"]["value"]["train_views"] == 20 and info["dataset"]["value"]["width"] == 32
    (run / "run_info.json").write_text(json.dumps({"device": "cuda:0", "parameters": 7, "step": 5, "elapsed_s": 1.5}))
    info = run_info(run, cfg, scalars, (32, 32))
    assert info["device"] == {"value": "cuda:0", "source": "run_info"}
    assert info["step"]["value"] == 5 and info["parameters"]["value"] == 7


# -- page data ----------------------------------------------------------------------------------

def test_run_page_data_matches_the_run(tiny_scene, tmp_path):
    run = fake_run(tiny_scene, tmp_path / "outputs", noise=10)
    w = AssetWriter(tmp_path / "report.html")
    data = run_data(run, w)
    metrics = json.loads((run / "eval_test" / "metrics.json").read_text())
    ev = data["evals"][0]
    assert ev["split"] == "test" and ev["psnr"] == metrics["psnr"] and ev["has_gt"]
    assert [(v["view"], v["psnr"], v["ssim"]) for v in ev["views"]] == [(m["view"], m["psnr"], m["ssim"])
                                                                          for m in metrics["views"]]
    for v in ev["views"]:
        assert v["render"] and v["gt"] and v["error"]
        assert 0 < v["max_error"] <= 10 / 255 + 1e-6  # renders are the ground truth + 10 grey levels
    assert sorted(data["scalars"]) == ["train/loss", "train/psnr", "val/psnr"]
    assert data["scalars"]["train/psnr"] == {"step": [10, 20], "value": [13.0, 17.0]}
    assert data["summary"]["train_psnr"] == 17.0 and data["summary"]["val_psnr"] == 15.5
    assert data["mesh"]["vertices"] == 8 and data["mesh"]["faces"] == 12 and data["mesh"]["colours"]
    assert data["mesh"]["metrics"]["fscore"] == 0.9
    assert data["gt_mesh"]["faces"] > 0  # the generated scene's mesh.ply
    assert data["videos"][0]["url"] == "report_assets/tiny_orbit.mp4"
    assert (tmp_path / data["videos"][0]["url"]).read_bytes() == (run / "video" / "orbit.mp4").read_bytes()
    script = (tmp_path / data["mesh"]["script"]).read_text()
    payload = script.split('="', 1)[1].rsplit('"', 1)[0]
    assert base64.b64decode(payload) == (run / "mesh" / "mesh.ply").read_bytes()
    assert data["info"]["step"]["source"] == "tensorboard" and data["notes"] == []


def test_report_without_dataset_logs_or_media(tiny_scene, tmp_path):
    scene = tmp_path / "scene"
    shutil.copytree(tiny_scene, scene)
    run = fake_run(scene, tmp_path / "outputs")
    shutil.rmtree(run / "tb"), shutil.rmtree(run / "mesh"), shutil.rmtree(run / "video")
    shutil.rmtree(scene)
    before = tree_digest(run)
    page = write_html_report([run], progress=False)
    assert page == run / "report.html"
    data = page_data_of(page)
    views = data["runs"][0]["evals"][0]["views"]
    assert all(v["render"] and v["gt"] is None and v["error"] is None for v in views)
    notes = " ".join(data["runs"][0]["notes"])
    assert "ground truth of the test split unavailable" in notes and "no training curves" in notes
    assert "nerfspec render" in notes and "nerfspec mesh" in notes
    assert "var NerfspecThree=" not in page.read_text()  # no mesh, no three.js
    after = tree_digest(run)
    assert {k: v for k, v in after.items() if not k.startswith("report")} == before


def page_data_of(page) -> dict:
    text = page.read_text()
    m = re.search(r'<script id="report-data" type="application/json">(.*?)</script>', text, re.S)
    return json.loads(m.group(1))


def test_several_runs_share_ground_truth(tiny_scene, tmp_path):
    a = fake_run(tiny_scene, tmp_path / "x", name="run")
    b = fake_run(tiny_scene, tmp_path / "y", name="run", noise=20)
    out = tmp_path / "both.html"
    assert main(["report", str(a), str(b), "--out", str(out), "--quiet"]) == 0
    data = page_data_of(out)
    assert data["kind"] == "runs" and [r["label"] for r in data["runs"]] == ["x/run", "y/run"]
    va, vb = (r["evals"][0]["views"] for r in data["runs"])
    assert [v["gt"] for v in va] == [v["gt"] for v in vb]  # one copy of each ground-truth image
    assert va[0]["error"] != vb[0]["error"]
    assert data["runs"][0]["gt_mesh"]["script"] == data["runs"][1]["gt_mesh"]["script"]
    assert data["runs"][0]["mesh"]["key"] != data["runs"][1]["mesh"]["key"]  # same folder name, other data


def test_malformed_eval_metrics_keep_what_is_usable(tiny_scene, tmp_path):
    run = fake_run(tiny_scene, tmp_path / "outputs")
    path = run / "eval_test" / "metrics.json"
    path.write_text(json.dumps({"psnr": 20.0, "views": [{"view": "a"}, 5, {"view": 2, "psnr": 21.0}]}))
    ev = run_data(run, AssetWriter(tmp_path / "r.html"))["evals"][0]
    assert [(v["view"], v["psnr"], v["ssim"]) for v in ev["views"]] == [(2, 21.0, None)]
    path.write_text(json.dumps({"views": "none"}))
    assert run_data(run, AssetWriter(tmp_path / "r.html"))["evals"][0]["views"] == []


def fake_compare(scene, root):
    """A nerfspec compare folder: results.json from build_results over two hand-made runs."""
    from nerfspec.compare import build_results

    root.mkdir()
    rows = []
    for field, value, psnr in (("none", None, 12.0), ("gauss", 1, 17.0), ("gauss", 4, 18.5)):
        name = f"{field}_s0" if value is None else f"{field}_sigma{value}_s0"
        fake_run(scene, root / "runs", name=name)
        curve = [{"index": i, "step": 4 * i, "elapsed_s": 1.5 * i, "psnr": psnr - 3 + i,
                  "band_power": [10 ** (-i - 1), 10 ** (-i - 2)]} for i in (1, 2, 3)]
        rows.append({"run": name, "field": field, "seed": 0, "sweep": "gauss.sigma" if value else None,
                     "value": value, "steps": 12, "train_s": 4.5, "samples_per_s": 1e4, "rays_per_s": 500.0,
                     "params": 1000, "test_psnr": psnr, "test_ssim": 0.6, "val_psnr": psnr - (value == 1) * 2,
                     "val_ssim": 0.5, "bands": [], "curve": curve, "band_edges": [0.0, 0.1, 0.5],
                     "run_dir": f"elsewhere/{name}"})
    results = build_results({"scene": str(scene), "fields": ["none", "gauss"], "seeds": [0], "max_steps": 12,
                             "max_minutes": None, "curve_points": 3, "device": "cpu", "torch": "x"}, rows)
    (root / "results.json").write_text(json.dumps(results))
    return root, results


def test_compare_page_data(tiny_scene, tmp_path):
    cmp, results = fake_compare(tiny_scene, tmp_path / "cmp")
    assert classify([cmp]) == ("compare", [cmp])
    assert [r["run"] for r in shown_runs(results)] == ["none_s0", "gauss_sigma4_s0"]
    page = write_html_report([cmp], progress=False)
    data = page_data_of(page)
    assert page == cmp / "report.html" and data["kind"] == "compare"
    assert [r["name"] for r in data["runs"]] == ["none_s0", "gauss_sigma4_s0"]  # found under runs/, not run_dir
    assert [r["label"] for r in data["runs"]] == ["none", "gauss (sigma=4)"]
    fields = data["compare"]["fields"]
    assert [f["test_psnr"] for f in fields] == [12.0, 18.5]
    np.testing.assert_allclose(fields[1]["spectrum_db"], [[-20, -30, -40], [-30, -40, -50]])
    assert data["compare"]["sweeps"]["gauss"]["value"] == 4
    assert spectrum_db([[1.0, 0.1]]) == [[0.0, -10.0]]


# -- the HTML shell and errors ---------------------------------------------------------------

def test_html_shell_escapes_and_inlines():
    data = {"title": "a </script><b>", "version": "0", "runs": []}
    text = render_html(data, with_mesh_viewer=False)
    assert json.loads(json_for_html(data)) == data
    assert text.count("</script>") == text.count("<script")  # the title cannot close a script early
    assert "<title>a &lt;/script&gt;&lt;b&gt; · nerfspec report</title>" in text
    assert "var uPlot=" in text and "var NerfspecThree=" not in text
    assert "var NerfspecThree=" in render_html(data, with_mesh_viewer=True)
    with pytest.raises(ValueError):
        json_for_html({"x": math.nan})


def test_report_cli_errors_are_one_line(tiny_scene, tmp_path, capsys):
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "notes.txt").write_text("not a run")
    run = fake_run(tiny_scene, tmp_path / "outputs")
    cmp, _ = fake_compare(tiny_scene, tmp_path / "cmp")
    cases = [([str(tmp_path / "plain")], "not a run directory (no config.toml) nor a nerfspec compare folder"),
             ([str(tmp_path / "absent")], "no such directory"),
             ([str(run), "--out", str(tmp_path / "r.txt")], "must end in .html"),
             ([str(run), str(run)], "the same run is given twice"),
             ([str(run), str(cmp)], "a comparison folder makes a page of its own")]
    before = tree_digest(tmp_path)
    for argv, message in cases:
        capsys.readouterr()
        assert main(["report", *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and err.count("\n") == 1, err
    (run / "config.toml").write_text("[field\n")
    before[str((run / "config.toml").relative_to(tmp_path))] = hashlib.sha1(b"[field\n").hexdigest()
    assert main(["report", str(run)]) == 2
    assert "config.toml" in capsys.readouterr().err
    assert tree_digest(tmp_path) == before  # nothing written, nothing changed
    with pytest.raises(NerfspecError):
        classify([])
