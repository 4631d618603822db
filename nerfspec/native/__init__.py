"""Small C++ CPU ops built on first use with torch's own extension builder.

The sources ship inside the package (``*.cpp`` here and beside the modules that use them), so
an installed nerfspec carries them. Each is compiled once per (source text, torch, Python, CPU,
flags) into torch's extension cache (``TORCH_EXTENSIONS_DIR``, default
``~/.cache/torch_extensions``) and loaded from there afterwards: first with ``-march=native``
(the build is per machine anyway; the CPU is part of the cache key), then, where the compiler
refuses that, with portable flags. Where every build fails (no C++ compiler, no OpenMP)
``load_op`` says so once on stderr and returns False; callers then use their PyTorch path,
which computes the same thing.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import os
import sys
import time
from pathlib import Path

import torch

from nerfspec.cpu import cpu_identity

HERE = Path(__file__).parent
# -ffp-contract=off keeps a * b + c as two roundings, like the PyTorch paths the ops mirror;
# -fno-math-errno lets square roots vectorise (they stay correctly rounded).
PORTABLE_FLAGS = ("-O3", "-fopenmp", "-ffp-contract=off", "-fno-math-errno")
FLAG_SETS = (("-march=native", *PORTABLE_FLAGS), PORTABLE_FLAGS)
LDFLAGS = ("-fopenmp",)
STALE_LOCK_S = 900  # a build lock older than this was left by a killed build (builds take < 2 min)


def extensions_root() -> Path:
    """torch's extension cache: ``TORCH_EXTENSIONS_DIR``, else torch's default build root."""
    from torch.utils.cpp_extension import get_default_build_root

    return Path(os.environ.get("TORCH_EXTENSIONS_DIR") or get_default_build_root())


@contextlib.contextmanager
def build_lock(name: str):
    """Hold an exclusive lock on ``<extension cache>/<name>.lock`` (``fcntl.flock``: the system
    drops it when its holder dies, so no stale lock outlives a killed build)."""
    root = extensions_root()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"{name}.lock", "a") as f:
        try:
            import fcntl
        except ImportError:  # no POSIX locks here: one process at a time is the caller's job
            yield
            return
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def import_one_at_a_time(module: str, lock_name: str):
    """Import ``module``, whose first import JIT-builds an extension, one process at a time.

    nerfacc's CUDA backend deletes its build folder when it finds it empty and then builds into
    it; processes starting together (the ranks of a data-parallel run) would delete each other's
    half-built folder. Under the lock the first process builds; the others wait, then find the
    build and load it."""
    with build_lock(lock_name):
        return importlib.import_module(module)


def build_directory(name: str, source: Path, cflags=PORTABLE_FLAGS, ldflags=LDFLAGS) -> Path:
    """Where op ``name`` is built: one folder per source text, torch, Python, CPU and flag set."""
    # torch's install folder too: the build compiles against its headers, and two environments
    # sharing one folder would rebuild it each time the other one loads it
    key = hashlib.sha256(source.read_bytes() + "\n".join(
        [torch.__version__, os.path.dirname(torch.__file__), sys.version, cpu_identity(), *cflags, *ldflags]
    ).encode()).hexdigest()[:16]
    return extensions_root() / f"{name}_{key}"


def build_and_load(name: str, source: Path, what: str, cflags, ldflags=LDFLAGS) -> None:
    """Compile (unless the cache has it) and load ``source`` as the op library ``name``."""
    from torch.utils.cpp_extension import load

    build_dir = build_directory(name, source, cflags, ldflags)
    build_dir.mkdir(parents=True, exist_ok=True)
    lock = build_dir / "lock"
    if lock.exists():
        if time.time() - lock.stat().st_mtime > STALE_LOCK_S:
            lock.unlink(missing_ok=True)  # left by a killed build; torch would wait on it forever
        else:
            print(f"note: waiting for another process's build of the {what} C++ op (delete {lock} "
                  "if none is running)", file=sys.stderr, flush=True)
    if not any(build_dir.glob("*.so")):
        print(f"note: compiling the {what} C++ op (first use only, under a minute)", file=sys.stderr, flush=True)
    load(name=name, sources=[str(source)], extra_cflags=list(cflags), extra_ldflags=list(ldflags),
         build_directory=str(build_dir), is_python_module=False,
         verbose=bool(os.environ.get("NERFSPEC_VERBOSE_BUILD")))


@functools.lru_cache(maxsize=None)
def load_op(name: str, source: str, what: str, flag_sets=FLAG_SETS) -> bool:
    """Build (first call only) and load the op library ``name`` from ``source`` (a file beside
    this module or an absolute path), trying each flag set in turn; True when ``torch.ops.<name>``
    is usable. ``what`` names the op in the one-line notes."""
    src = Path(source) if os.path.isabs(source) else HERE / source
    error: Exception | None = None
    for cflags in flag_sets:
        try:
            build_and_load(name, src, what, cflags)
            return True
        except Exception as exc:  # any build or load failure: try the next flags, then PyTorch
            error = exc
    reason = " ".join(str(error).split())[:300]
    print(f"note: the {what} C++ op is unavailable ({type(error).__name__}: {reason}); "
          "using the PyTorch implementation", file=sys.stderr, flush=True)
    return False
