"""The C++ op loader: cache keys, flag fallbacks, stale build locks, the PyTorch fallback."""

import os
import time

import pytest

from nerfspec import native


@pytest.fixture
def build_root(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path / "ext"))
    return tmp_path / "ext"


def test_build_directory_is_keyed_by_source_flags_and_cpu(tmp_path, build_root, monkeypatch):
    src = tmp_path / "op.cpp"
    src.write_text("// one\n")
    a = native.build_directory("op", src, native.FLAG_SETS[0])
    assert a.parent == build_root and a.name.startswith("op_")
    assert native.build_directory("op", src, native.FLAG_SETS[1]) != a
    monkeypatch.setattr(native, "cpu_identity", lambda: "model name: another CPU\n")
    assert native.build_directory("op", src, native.FLAG_SETS[0]) != a
    monkeypatch.undo()  # (also undoes the fixture's TORCH_EXTENSIONS_DIR)
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(build_root))
    assert native.build_directory("op", src, native.FLAG_SETS[0]) == a
    import torch

    # another environment's torch (its own headers) builds in its own folder
    monkeypatch.setattr(torch, "__file__", "/elsewhere/venv/site-packages/torch/__init__.py")
    assert native.build_directory("op", src, native.FLAG_SETS[0]) != a
    monkeypatch.undo()
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(build_root))
    assert native.build_directory("op", src, native.FLAG_SETS[0]) == a
    src.write_text("// two\n")
    assert native.build_directory("op", src, native.FLAG_SETS[0]) != a


def test_each_flag_set_is_tried_in_turn(tmp_path, build_root, monkeypatch, capsys):
    tried = []

    def fake(name, source, what, cflags, ldflags=native.LDFLAGS):
        tried.append(cflags)
        if "-march=native" in cflags:
            raise RuntimeError("unrecognised flag")

    monkeypatch.setattr(native, "build_and_load", fake)
    src = tmp_path / "op.cpp"
    src.write_text("//\n")
    assert native.load_op.__wrapped__("op_a", str(src), "test") is True
    assert tried == list(native.FLAG_SETS)
    assert capsys.readouterr().err == ""  # a fallback that works is silent


def test_a_source_that_does_not_build_falls_back_with_one_note(tmp_path, build_root, capsys):
    src = tmp_path / "broken.cpp"
    src.write_text("this is not C++\n")
    assert native.load_op.__wrapped__("nerfspec_broken_test", str(src), "broken test") is False
    err = capsys.readouterr().err.strip().splitlines()
    notes = [line for line in err if "unavailable" in line]
    assert len(notes) == 1 and "broken test" in notes[0] and "PyTorch implementation" in notes[0]


def test_a_stale_build_lock_is_removed_and_a_fresh_one_kept(tmp_path, build_root, monkeypatch, capsys):
    import torch.utils.cpp_extension as ext

    monkeypatch.setattr(ext, "load", lambda **kwargs: None)
    src = tmp_path / "op.cpp"
    src.write_text("//\n")
    build_dir = native.build_directory("op", src, native.PORTABLE_FLAGS)
    build_dir.mkdir(parents=True)
    lock = build_dir / "lock"
    lock.touch()
    old = time.time() - native.STALE_LOCK_S - 10
    os.utime(lock, (old, old))
    native.build_and_load("op", src, "test", native.PORTABLE_FLAGS)
    assert not lock.exists()
    lock.touch()  # another process building now: waited for, not removed
    native.build_and_load("op", src, "test", native.PORTABLE_FLAGS)
    assert lock.exists() and "waiting for another process's build" in capsys.readouterr().err


def test_python_m_nerfspec_native_reports_every_op(capsys):
    from nerfspec.native.__main__ import main

    assert main() == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" C++ op: ")[0] for line in lines] == ["ray marching", "hash-grid"]
    assert all(line.endswith(("ready", "instead)")) for line in lines)


# a stand-in for nerfacc's CUDA backend: its import builds into a folder it first deletes when it
# finds it empty, the way nerfacc.cuda._backend does, and fails when its half-built folder vanishes
RACY_BACKEND = '''
import os, shutil, time
build = os.path.join(os.environ["TORCH_EXTENSIONS_DIR"], "racy_build")
os.makedirs(build, exist_ok=True)
if not os.listdir(build):
    time.sleep(0.5)  # others look at the folder meanwhile
    shutil.rmtree(build, ignore_errors=True)
    os.makedirs(build, exist_ok=True)
    mine = os.path.join(build, "part_%d" % os.getpid())
    open(mine, "w").close()
    time.sleep(1.0)  # compiling
    if not os.path.exists(mine):
        raise RuntimeError("the build folder was deleted by another process")
    open(os.path.join(build, "ext.so"), "w").close()
else:
    while not os.path.exists(os.path.join(build, "ext.so")):
        time.sleep(0.05)
'''

def _import_when_all_are_ready(folder: str, sync: str, n: int, extensions: str) -> None:
    """A forked process: wait until ``n`` processes are ready, then import the racy backend."""
    import sys

    os.environ["TORCH_EXTENSIONS_DIR"] = extensions
    sys.path.insert(0, folder)
    open(os.path.join(sync, f"ready_{os.getpid()}"), "w").close()
    while len([f for f in os.listdir(sync) if f.startswith("ready_")]) < n:
        time.sleep(0.01)
    native.import_one_at_a_time("racy_backend", "racy_build")


def test_processes_starting_together_build_an_extension_one_at_a_time(tmp_path, build_root):
    """Four processes import a backend that deletes an empty build folder before building into
    it (nerfacc's): under ``import_one_at_a_time`` none loses its folder to another."""
    import multiprocessing

    (tmp_path / "racy_backend.py").write_text(RACY_BACKEND)
    sync = tmp_path / "sync"
    sync.mkdir()
    n = 4
    ctx = multiprocessing.get_context("fork")  # the test's torch is already imported: cheap starts
    procs = [ctx.Process(target=_import_when_all_are_ready, args=(str(tmp_path), str(sync), n, str(build_root)))
             for _ in range(n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * n
    built = build_root / "racy_build"
    assert (built / "ext.so").exists() and len(list(built.glob("part_*"))) == 1  # built once
