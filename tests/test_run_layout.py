"""The run folder's layout: named by nerfspec/run_layout.py alone, the names runs on disk have."""

import ast
from pathlib import Path

from nerfspec import run_layout as layout
from tests.test_layering import PACKAGE

# file and folder names of a run (and prefixes of names built from them) that only run_layout spells
LAYOUT_NAMES = {"config.toml", "run_info.json", "checkpoints", "metrics.json", "compare.json", "tb", "report.html"}
LAYOUT_PREFIXES = ("eval_", "ckpt_")


def spelled_layout(path: Path) -> list[tuple[int, str]]:
    """(line, text) of every string in a file that names part of a run folder: a constant equal to
    one of LAYOUT_NAMES, or an f-string starting with one of LAYOUT_PREFIXES."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in LAYOUT_NAMES:
            found.append((node.lineno, node.value))
        elif (isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant)
              and str(node.values[0].value).startswith(LAYOUT_PREFIXES)):
            found.append((node.lineno, node.values[0].value))
    return sorted(found)


def test_only_run_layout_spells_the_run_folder():
    spelled = {str(p.relative_to(PACKAGE.parent)): hits for p in sorted(PACKAGE.rglob("*.py"))
               if p.name != "run_layout.py" and (hits := spelled_layout(p))}
    assert spelled == {}


def test_spelled_layout_finds_names_and_prefixes(tmp_path):
    f = tmp_path / "m.py"
    f.write_text('a = run / "metrics.json"\nb = f"eval_{split}"\nc = "metrics"\nd = f"{x}_eval_{y}"\n')
    assert spelled_layout(f) == [(1, "metrics.json"), (2, "eval_")]


def test_paths_are_those_of_runs_on_disk():
    run = Path("outputs/demo")
    assert layout.config_path(run) == run / "config.toml"
    assert layout.run_info_path(run) == run / "run_info.json"
    assert layout.checkpoint_path(run, 42) == run / "checkpoints" / "ckpt_00000042.pt"
    assert layout.checkpoint_dir(run) == run / "checkpoints"
    assert layout.tensorboard_dir(run) == run / "tb"
    assert layout.eval_dir(run, "val") == run / "eval_val"
    assert layout.eval_metrics_path(run, "test") == run / "eval_test" / "metrics.json"
    assert layout.eval_dir(run, "test") / layout.eval_view_name(3) == run / "eval_test" / "r_3.png"
    assert layout.video_dir(run) == run / "video"
    assert layout.mesh_dir(run) == run / "mesh"
    assert layout.mesh_path(run, "glb") == run / "mesh" / "mesh.glb"
    assert layout.mesh_path(run) == run / "mesh" / "mesh.ply"
    assert layout.mesh_metrics_path(run) == run / "mesh" / "metrics.json"
    assert layout.compare_state_path(run) == run / "compare.json"
    assert layout.page_path(run) == run / "report.html"
    assert layout.page_path("x") == Path("x/report.html")  # a str is taken too


def test_evaluated_splits_are_those_with_metrics(tmp_path):
    for split in ("val", "test", "train"):
        layout.eval_dir(tmp_path, split).mkdir()
    layout.eval_metrics_path(tmp_path, "test").write_text("{}")
    layout.eval_metrics_path(tmp_path, "train").write_text("{}")
    (tmp_path / "evaluation").mkdir()
    assert layout.evaluated_splits(tmp_path) == ["test", "train"]


def test_checkpoints_newest_first_and_run_dir(tmp_path):
    assert layout.checkpoint_paths(tmp_path) == [] and not layout.is_run_dir(tmp_path)
    layout.checkpoint_dir(tmp_path).mkdir()
    for step in (5, 100, 20):
        layout.checkpoint_path(tmp_path, step).write_bytes(b"")
    (layout.checkpoint_dir(tmp_path) / ".ckpt_00000200.pt.x.tmp").write_bytes(b"")
    assert [p.name for p in layout.checkpoint_paths(tmp_path)] == [
        "ckpt_00000100.pt", "ckpt_00000020.pt", "ckpt_00000005.pt"]
    layout.config_path(tmp_path).write_text("")
    assert layout.is_run_dir(tmp_path)
