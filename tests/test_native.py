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
