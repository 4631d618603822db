"""Every bad command-line value is one line ``error: ...`` on stderr and exit code 2: per command
a typed option, a choice and a missing argument (argparse's own checks and the commands'), bad
datasets and configs, impossible values, and operating-system errors."""

import errno
import subprocess
import sys
from pathlib import Path

import pytest

from nerfspec.cli import main
from tests.conftest import run_cli
from tests.test_run import fast_dict, one_line_error, write_config

SCENE = str(Path(__file__).resolve().parents[1] / "scenes" / "default.toml")

# (command line, what the one line names); "RUN" is a folder that is not a run
CASES = {
    "train": [("train --max-steps abc", "argument --max-steps: invalid int value: 'abc'"),
              ("train --max-minutes soon", "argument --max-minutes: invalid float value: 'soon'"),
              ("train --set field.encoding=bogus", "field.encoding must be one of"),
              ("train --resume", "argument --resume: expected one argument")],
    "eval": [("eval RUN --every x", "argument --every: invalid int value: 'x'"),
             ("eval RUN --split bogus", "argument --split: invalid choice: 'bogus'"),
             ("eval RUN --device tpu", "argument --device: invalid choice: 'tpu'"),
             ("eval", "the following arguments are required: run_dir")],
    "make-scene": [(f"make-scene {SCENE} OUT --size big", "argument --size: invalid int value: 'big'"),
                   (f"make-scene {SCENE} OUT --format bogus", "format must be one of blender, nerfstudio"),
                   (f"make-scene {SCENE}", "the following arguments are required: out_dir")],
    "check-data": [("check-data RUN --set data.downscale=abc", "data.downscale must be int, got 'abc'"),
                   ("check-data RUN --set data.normalize=bogus", "data.normalize must be one of"),
                   ("check-data", "the following arguments are required: root")],
    "compare": [("compare --scene RUN --steps x", "argument --steps: invalid int value: 'x'"),
                ("compare --scene RUN --fields gauss,bogus --steps 1 --out OUT", "--fields: unknown field 'bogus'"),
                ("compare --scene RUN --steps 2 --budget-minutes 1", "not allowed with argument"),
                ("compare", "the following arguments are required: --scene")],
    "render": [("render RUN --frames x", "--frames must be an integer, got 'x'"),
               ("render RUN --path bogus", "--path must be one of orbit, spiral"),
               ("render", "the following arguments are required: run_dir")],
    "mesh": [("mesh RUN --resolution x", "--resolution must be an integer, got 'x'"),
             ("mesh RUN --format bogus", "unsupported mesh format 'bogus'"),
             ("mesh RUN --bbox 1 2", "argument --bbox: expected 6 arguments"),
             ("mesh", "the following arguments are required: run_dir")],
    # report has no typed or chosen option; a flag given a value is its bad value
    "report": [("report RUN --quiet=3", "argument --quiet: ignored explicit argument '3'"),
               ("report", "the following arguments are required: RUN_OR_COMPARE_DIR")],
    "fit": [("fit image t.png --steps x", "argument --steps: invalid int value: 'x'"),
            ("fit bogus", "argument task: invalid choice: 'bogus'"),
            ("fit image", "the following arguments are required: targets")],
    "nerfspec": [("bogus", "argument command: invalid choice: 'bogus'"), ("", "arguments are required: command")],
}


@pytest.mark.parametrize("line,needle", [c for cases in CASES.values() for c in cases],
                         ids=[c[0][:60] for cases in CASES.values() for c in cases])
def test_bad_value_is_one_error_line_and_exit_2(tmp_path, line, needle):
    folder = tmp_path / "photos"
    folder.mkdir()
    argv = [a.replace("RUN", str(folder)).replace("OUT", str(tmp_path / "out")) for a in line.split()]
    result = run_cli(*argv)
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], result.stderr
    assert "usage:" not in result.stderr and result.stdout == ""
    assert not (tmp_path / "out").exists()  # nothing was written


def test_parse_errors_name_the_command_and_its_help():
    proc = subprocess.run([sys.executable, "-m", "nerfspec", "train", "c.toml", "--max-steps", "abc"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == ("error: nerfspec train: argument --max-steps: invalid int value: 'abc' "
                           "(see nerfspec train --help)\n")


def test_help_still_prints_and_exits_0():
    result = run_cli("eval", "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: nerfspec eval") and "--split {train,val,test}" in result.stdout


@pytest.mark.parametrize("command", ["mesh", "render"])
def test_not_a_run_is_one_line_exit_2(command, tmp_path, capsys):
    assert main([command, str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


@pytest.mark.parametrize("args", [
    ["mesh", "--resolution", "abc"], ["mesh", "--resolution", "1"], ["mesh", "--threshold", "-1"],
    ["mesh", "--bbox", "0", "0", "0", "1", "-1", "1"], ["mesh", "--format", "stl"],
    ["render", "--resolution", "64"], ["render", "--frames", "0"], ["render", "--outputs", "rgb,normals"],
    ["render", "--path", "zigzag"], ["render", "--layout", "grid"], ["render", "--smoothing", "-1"],
    ["render", "--resolution", "8x8", "--downscale", "2"],
])
def test_bad_options_are_one_line_exit_2(args, tmp_path, capsys):
    assert main([args[0], str(tmp_path), *args[1:]]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "run directory" not in err  # the option is checked before the run is loaded


@pytest.mark.parametrize("args", [["--method", "poisson"], ["--cull", "hull"], ["--min-component", "2"],
                                  ["--tsdf-trunc", "0"], ["--tsdf-opacity", "0"],
                                  ["--depth-margin", "-1"]])
def test_bad_mesh_options_are_one_line_exit_2(args, tmp_path, capsys):
    assert main(["mesh", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "run directory" not in err


def test_bad_dataset_leaves_no_run_directory(tiny_scene, tmp_path, capsys):
    cfg = write_config(tmp_path / "c.toml", fast_dict(tmp_path / "no-scene", tmp_path / "out"))
    one_line_error(capsys, ["train", cfg], "dataset folder not found")
    assert not (tmp_path / "out" / "tiny").exists()  # fixing the data and rerunning needs no --force


def test_config_file_with_mistyped_key_through_the_cli(tiny_scene, tmp_path, capsys):
    values = fast_dict(tiny_scene, tmp_path / "out")
    values["train"]["max_setps"] = values["train"].pop("max_steps")
    cfg = write_config(tmp_path / "c.toml", values)
    err = one_line_error(capsys, ["train", cfg], "unknown config key 'train.max_setps'")
    assert "did you mean 'train.max_steps'" in err and "c.toml" in err


@pytest.mark.parametrize("setting,needle", [
    ("field.width=-8", "field.width must be > 0"),
    ("field.gauss.sigma=0", "field.gauss.sigma must be > 0"),
    ("field.gauss.sigma=-2.5", "field.gauss.sigma must be > 0"),
    ("field.gauss.sigma=nan", "field.gauss.sigma must be a finite number"),
    ("train.lr=inf", "train.lr must be a finite number"),
    ("sampler.grid_resolution=0", "sampler.grid_resolution must be > 0"),
    ("data.downscale=-1", "data.downscale must be > 0"),
    ("train.weight_decay=-0.1", "train.weight_decay must be >= 0"),
    ("train.max_bad_steps=0", "train.max_bad_steps must be > 0"),
    ("name='..'", "name must be a folder name"),
])
def test_impossible_values_through_the_cli(tiny_scene, tmp_path, capsys, setting, needle):
    cfg = write_config(tmp_path / "c.toml", fast_dict(tiny_scene, tmp_path / "out"))
    one_line_error(capsys, ["train", cfg, "--set", setting], needle)


def test_oserror_elsewhere_is_still_one_line(tmp_path, capsys, monkeypatch):
    import nerfspec.cli as cli

    def boom(args):
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / "x.png"))

    monkeypatch.setitem(cli.COMMANDS, "eval", boom)
    one_line_error(capsys, ["eval", tmp_path], "x.png: Read-only file system")


@pytest.mark.parametrize("fields,needle", [("", "name at least one field"), ("gauss,gaus", "unknown field 'gaus'"),
                                           ("pe,pe", "a field is named twice")])
def test_compare_with_an_impossible_field_list(tiny_scene, tmp_path, capsys, fields, needle):
    one_line_error(capsys, ["compare", "--scene", tiny_scene, "--fields", fields, "--steps", "1",
                            "--out", tmp_path / "cmp"], "--fields: " + needle)
    assert not (tmp_path / "cmp" / "runs").exists()
