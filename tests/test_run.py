"""nerfspec.run: interrupted, killed and crashing runs, what survives on disk (atomic checkpoints,
the previous one when the newest is damaged) and what the user is told.

The subprocess tests run the real console entry point (``python -m nerfspec train``) on the
tiny scene with a very small field so that each run takes seconds.
"""

import errno
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from nerfspec.cli import main
from nerfspec.config import config_from_dict, dump_toml
from nerfspec.errors import CheckpointError, DivergedError, OutputError
from nerfspec.models import load_run
from nerfspec.run import checkpoint_paths, create_run_dir, load_checkpoint, read_checkpoint, save_checkpoint
from nerfspec.run_layout import CHECKPOINT_DIR
from nerfspec.train import train
from tests.conftest import tiny_config_dict

# an even smaller set-up than tiny_config: one thread, few rays, a narrow field
FAST = dict(rays_per_step=64, threads=1, log_every=5)


def fast_dict(scene, out, **train_kw):
    d = tiny_config_dict(scene, out, **{**FAST, **train_kw})
    d["field"].update(width=32, gauss={"features": 16, "sigma": 2.0})
    return d


def hashgrid_dict(scene, out, **train_kw):
    """``fast_dict`` with the demo's field: a (small) hash grid whose tables LazyAdam steps,
    at the precision the demo runs at (bf16 where the CPU has it)."""
    d = fast_dict(scene, out, **train_kw)
    d["field"] = {"encoding": "hashgrid", "precision": "auto",
                  "hashgrid": {"levels": 4, "log2_table_size": 10, "base_resolution": 4, "max_resolution": 32,
                               "density_width": 16, "colour_width": 16}}
    d["train"].update(lr_encoding=1e-2, weight_decay=1e-6)
    return d


FIELDS = {"gauss": fast_dict, "hashgrid": hashgrid_dict}


def write_config(path: Path, values: dict) -> Path:
    path.write_text(dump_toml(values))
    return path


def nerfspec(*args, **kw) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "nerfspec", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env, **kw)


def wait_for_checkpoint(proc: subprocess.Popen, run_dir: Path, timeout: float = 90.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = checkpoint_paths(run_dir) if (run_dir / CHECKPOINT_DIR).is_dir() else []
        if found:
            return found[0]
        if proc.poll() is not None:
            raise AssertionError(f"training ended before its first checkpoint:\n{proc.stdout.read()}")
        time.sleep(0.02)
    proc.kill()
    raise AssertionError("no checkpoint appeared")


def field_state(run_dir: Path) -> dict:
    return load_run(run_dir, "cpu").field.state_dict()


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=f"{k} differs")


# -- 1. interrupts and kills ---------------------------------------------------------------------

@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_signal_saves_checkpoint_and_says_how_to_resume(tiny_scene, tmp_path, sig, code):
    cfg = write_config(tmp_path / "c.toml", fast_dict(tiny_scene, tmp_path / "out", max_steps=100000,
                                                      checkpoint_every=5))
    run_dir = tmp_path / "out" / "tiny"
    proc = nerfspec("train", cfg)
    wait_for_checkpoint(proc, run_dir)
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == code, out
    assert f"Resume with: nerfspec train --resume {run_dir}" in out and "Traceback" not in out, out
    newest = checkpoint_paths(run_dir)[0]
    state = read_checkpoint(newest)
    assert newest.name == f"ckpt_{state['step']:08d}.pt"
    assert f"interrupted by {sig.name} at step {state['step']};" in out  # the stopping step is saved
    assert not list((run_dir / CHECKPOINT_DIR).glob(".*.tmp"))


@pytest.mark.parametrize("field", FIELDS)
def test_kill_9_then_resume_is_bit_for_bit_identical_to_an_uninterrupted_run(tiny_scene, tmp_path, field):
    """A run killed with SIGKILL mid-training and continued with --resume ends at exactly the
    weights (bit for bit, CPU, same seed) of the same run trained without interruption."""
    steps = 30
    values = FIELDS[field](tiny_scene, tmp_path / "out", max_steps=steps, checkpoint_every=5)
    reference = train(config_from_dict({**values, "name": "straight"}), quiet=True)
    assert reference.step == steps

    run_dir = tmp_path / "out" / "tiny"
    proc = nerfspec("train", write_config(tmp_path / "c.toml", values))
    first = wait_for_checkpoint(proc, run_dir)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.kill()  # SIGKILL: no handler runs, nothing is flushed
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    killed_at = read_checkpoint(checkpoint_paths(run_dir)[0])["step"]
    assert first.name <= checkpoint_paths(run_dir)[0].name and killed_at < steps

    proc = nerfspec("train", "--resume", run_dir)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    assert load_run(run_dir, "cpu").step == steps
    assert_same_weights(field_state(reference.run_dir), field_state(run_dir))


# -- 2. atomic checkpoints, corrupt checkpoints ----------------------------------------------------

def small_state(step: int) -> dict:
    return {"field": {"w": torch.full((256,), float(step))}, "estimator": {}, "optimizer": {}, "step": step,
            "schedule": {}, "encoding": "gauss"}


def test_crash_while_writing_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    save_checkpoint(tmp_path, small_state(10), 10)
    import nerfspec.run as run_module

    real_fsync, written = os.fsync, []

    def half_on_disk_then_crash(fd):  # the write reached the disk file, then the device fails
        size = os.fstat(fd).st_size
        os.ftruncate(fd, size // 2 + 7)
        real_fsync(fd)
        written.append(size // 2 + 7)
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(run_module.os, "fsync", half_on_disk_then_crash)
    with pytest.raises(OutputError, match=r"ckpt_00000020\.pt.*Input/output error.*ckpt_00000010\.pt"):
        save_checkpoint(tmp_path, small_state(20), 20)
    monkeypatch.setattr(run_module.os, "fsync", real_fsync)
    assert written and written[0] > 7  # a partial file did reach the disk
    assert [p.name for p in checkpoint_paths(tmp_path)] == ["ckpt_00000010.pt"]
    assert not list((tmp_path / CHECKPOINT_DIR).glob(".*"))  # and was removed

    # the file is fully written but the process dies before the rename
    def die(*_a):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", die)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path, small_state(30), 30)
    monkeypatch.undo()
    assert [p.name for p in checkpoint_paths(tmp_path)] == ["ckpt_00000010.pt"]
    assert not list((tmp_path / CHECKPOINT_DIR).glob(".*"))  # no temporary file left behind
    assert load_checkpoint(tmp_path, torch.device("cpu"))["step"] == 10


def test_stale_temporary_files_are_ignored_and_cleaned(tmp_path):
    save_checkpoint(tmp_path, small_state(5), 5)
    stale = tmp_path / CHECKPOINT_DIR / ".ckpt_00000010.pt.abc123.tmp"  # what kill -9 mid-write leaves
    stale.write_bytes(b"PK\x03\x04 half a zip")
    assert load_checkpoint(tmp_path, torch.device("cpu"))["step"] == 5
    save_checkpoint(tmp_path, small_state(10), 10)
    assert not stale.exists()


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "not a checkpoint"])
def test_corrupt_newest_checkpoint_falls_back_to_the_previous(tmp_path, capsys, damage):
    save_checkpoint(tmp_path, small_state(10), 10)
    newest = save_checkpoint(tmp_path, small_state(20), 20)
    data = newest.read_bytes()
    newest.write_bytes({"truncated": data[: len(data) // 3], "garbage": os.urandom(len(data)),
                        "empty": b""}.get(damage, b""))
    if damage == "not a checkpoint":
        torch.save({"weights": torch.zeros(3)}, newest)
    state = load_checkpoint(tmp_path, torch.device("cpu"))
    assert state["step"] == 10
    err = capsys.readouterr().err
    assert "ckpt_00000020.pt" in err and "using the previous one, ckpt_00000010.pt" in err, err


def test_all_checkpoints_corrupt_is_one_line_error_naming_them(tiny_scene, tmp_path, capsys):
    values = fast_dict(tiny_scene, tmp_path / "out", max_steps=4, checkpoint_every=2)
    run = train(config_from_dict(values), quiet=True).run_dir
    for p in checkpoint_paths(run):
        p.write_bytes(p.read_bytes()[:100])
    capsys.readouterr()
    for argv in (["eval", run], ["train", "--resume", run]):
        assert main(list(map(str, argv))) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-1].startswith("error: ") and "no readable checkpoint" in err[-1]
        assert "ckpt_00000004.pt" in err[-1] and "ckpt_00000002.pt" in err[-1]
        assert all(line.startswith("warning: ") for line in err[:-1])


# -- 3. numerical faults -----------------------------------------------------------------------------


# -- 4./5. run directories, mismatched checkpoints, write failures --------------------------------

@pytest.fixture(scope="module")
def trained_run(tiny_scene, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    return train(config_from_dict(fast_dict(tiny_scene, out, max_steps=4, checkpoint_every=2)), quiet=True)


def one_line_error(capsys, argv, needle):
    """Run the CLI in-process: exit code 2 and a last stderr line ``error: ...`` holding
    ``needle``; before it only progress bars, notes and warnings."""
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    *before, last = re.split(r"[\r\n]+", err)
    assert last.startswith("error: ") and needle in last, err
    assert "Traceback" not in err and not any(line.startswith("error") for line in before), err
    return last


@pytest.mark.parametrize("cmd", ["eval", "resume"])
def test_random_folder_is_not_a_run(tmp_path, capsys, cmd):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "a.txt").write_text("hello")
    argv = ["eval", folder] if cmd == "eval" else ["train", "--resume", folder]
    one_line_error(capsys, argv, "not a run directory (no config.toml)")
    one_line_error(capsys, [argv[0], *argv[1:-1], tmp_path / "nowhere"], "run directory not found")


def test_checkpoint_of_another_field_is_refused(trained_run, tmp_path, capsys):
    run = trained_run.run_dir
    one_line_error(capsys, ["train", "--resume", run, "--set", "field.encoding=pe"],
                   "checkpoint holds a 'gauss' field but the config asks for field.encoding = 'pe'")
    one_line_error(capsys, ["train", "--resume", run, "--set", "field.width=48"],
                   "checkpoint does not match the configured field")
    edited = tmp_path / "edited"
    import shutil

    shutil.copytree(run, edited)
    text = (edited / "config.toml").read_text()
    (edited / "config.toml").write_text(text.replace('encoding = "gauss"', 'encoding = "basic"'))
    one_line_error(capsys, ["eval", edited], "checkpoint holds a 'gauss' field")
    (edited / "config.toml").write_text(text.replace("depth = 2", "depth = 3"))
    one_line_error(capsys, ["eval", edited], "was config.toml edited after training?")
    (edited / "config.toml").write_text("[field\n")
    one_line_error(capsys, ["eval", edited], "config.toml: not valid TOML")


def test_run_without_checkpoint_cannot_be_evaluated(tiny_scene, tmp_path, capsys):
    cfg = config_from_dict(fast_dict(tiny_scene, tmp_path / "out"))
    one_line_error(capsys, ["eval", create_run_dir(cfg)], "run has no checkpoint yet")


def test_existing_run_needs_force_through_the_cli(tiny_scene, tmp_path, capsys):
    cfg = write_config(tmp_path / "c.toml", fast_dict(tiny_scene, tmp_path / "out", max_steps=2))
    assert main(["train", str(cfg)]) == 0
    run = tmp_path / "out" / "tiny"
    marker = run / "notes.txt"
    marker.write_text("mine")
    capsys.readouterr()
    one_line_error(capsys, ["train", cfg], "run directory exists; use --resume")
    assert marker.read_text() == "mine"
    assert main(["train", str(cfg), "--force"]) == 0 and not marker.exists()
    # --force replaces runs, never an unrelated folder
    other = tmp_path / "out" / "docs"
    other.mkdir()
    (other / "thesis.tex").write_text("precious")
    capsys.readouterr()
    one_line_error(capsys, ["train", cfg, "--name", "docs", "--force"], "is not a run directory")
    assert (other / "thesis.tex").read_text() == "precious"


def test_disk_full_while_checkpointing_keeps_last_good_checkpoint(tiny_scene, tmp_path, capsys, monkeypatch):
    cfg = write_config(tmp_path / "c.toml", fast_dict(tiny_scene, tmp_path / "out", max_steps=6,
                                                      checkpoint_every=2))
    real_replace = os.replace
    calls = []

    def replace(src, dst):
        calls.append(dst)
        if str(dst).endswith("ckpt_00000004.pt"):
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    err = one_line_error(capsys, ["train", cfg], "No space left on device")
    assert "cannot write checkpoint" in err and "the last good checkpoint is" in err
    run = tmp_path / "out" / "tiny"
    assert [p.name for p in checkpoint_paths(run)] == ["ckpt_00000002.pt"]
    assert not list((run / CHECKPOINT_DIR).glob(".*"))
    monkeypatch.undo()
    assert load_run(run, "cpu").step == 2
    assert main(["train", "--resume", str(run)]) == 0  # once there is room again, it continues
    assert load_run(run, "cpu").step == 6


def test_unwritable_output_folder_is_one_line_error(tiny_scene, tmp_path, capsys, monkeypatch):
    cfg = write_config(tmp_path / "c.toml", fast_dict(tiny_scene, tmp_path / "out"))
    real_mkdir = Path.mkdir

    def mkdir(self, *a, **kw):
        if self.name == "tiny":
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_mkdir(self, *a, **kw)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    one_line_error(capsys, ["train", cfg], "Permission denied")


def test_checkpoint_error_is_a_nerfspec_error():
    from nerfspec.errors import NerfspecError

    assert issubclass(CheckpointError, NerfspecError) and issubclass(OutputError, NerfspecError)
    assert issubclass(DivergedError, NerfspecError)


