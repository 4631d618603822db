"""Every bad command-line value is one line ``error: ...`` on stderr and exit code 2: per command
a typed option, a choice and a missing argument (argparse's own checks and the commands')."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli

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
