"""The mesh's one-sentence summary (make demo's closing message) and scripts/geometry_table.py."""
import importlib.util
import json
from pathlib import Path

from nerfspec.export.mesh_summary import main, mesh_summary

CLEANED = {"method": "density", "threshold": 10.0, "resolution": 256, "voxel": 3 / 255, "faces": 1200,
           "cleaning": {"cull": "depth", "min_component": 0.005, "removed_outside_frusta": 7,
                        "removed_by_silhouettes": 31, "removed_behind_depth": 5, "removed_small_components": 400,
                        "components_before": 839, "components_after": 1},
           "fscore_tau": 0.02, "visible_fscore": 0.912, "visible_precision": 0.94, "visible_recall": 0.886,
           "visible_precision_true_occlusion": 0.951,
           "fscore": 0.55}


def test_summary_names_extractor_resolution_and_each_rule():
    text = mesh_summary(CLEANED)
    assert "marching cubes" in text and "256^3" in text and "voxel 0.0118" in text
    assert "7 faces outside" in text and "31 on a silhouette" in text and "400 in small pieces" in text
    assert "5 behind every view's rendered surface" in text and "cull depth" in text
    assert "839 -> 1 components" in text and "0.912" in text and "1200 faces" in text


def test_summary_of_a_raw_tsdf_mesh_says_not_cleaned():
    raw = dict(CLEANED, method="tsdf", cleaning={"cull": "none", "min_component": 0.0})
    del raw["visible_fscore"]
    text = mesh_summary(raw)
    assert "TSDF" in text and "not cleaned" in text and "F-score" not in text


def test_main_reads_the_file_and_refuses_a_bad_one(tmp_path, capsys):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(CLEANED))
    assert main(["x", str(path)]) == 0
    assert "839 -> 1" in capsys.readouterr().out
    path.write_text("{")
    assert main(["x", str(path)]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def _table_module():
    path = Path(__file__).resolve().parents[1] / "scripts" / "geometry_table.py"
    spec = importlib.util.spec_from_file_location("geometry_table", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_geometry_table_rows_from_run_folders(tmp_path, capsys):
    table = _table_module()
    run = tmp_path / "default_hashgrid_on"
    (run / "meshes").mkdir(parents=True)
    (run / "eval_test").mkdir()
    (run / "eval_test" / "metrics.json").write_text(json.dumps({"psnr": 28.4321, "step": 1116}))
    (run / "meshes" / "density_silhouette.json").write_text(json.dumps(dict(CLEANED, chamfer_l1=0.0123,
                                                                            components=1)))
    (run / "meshes" / "tsdf_raw.json").write_text(json.dumps(dict(CLEANED, method="tsdf", chamfer_l1=None,
                                                                  components=5, cleaning={})))
    assert table.main(["x", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 4 and out == (tmp_path / "table.md").read_text().splitlines()
    assert out[2] == ("| default | hashgrid | both | marching cubes 256^3 | silhouette | 0.912 (0.940 / 0.886) "
                      "| 0.951 | 0.550 | 0.0123 | 1 | 443 | 28.43 | 1116 |")
    assert "| TSDF 256^3 | raw |" in out[3] and "| - | 5 | 0 |" in out[3]
    assert table.main(["x", str(tmp_path / "none")]) == 2
