"""The hash encoding's C++ CPU ops: built on first use with torch's own extension builder.

``hashgrid_cpu.cpp`` ships inside the package, so an installed nerfspec carries it. It is
compiled once per (source, torch, Python, CPU, compiler flags) into torch's extension cache
(``TORCH_EXTENSIONS_DIR``, default ``~/.cache/torch_extensions``) and loaded from there
afterwards. Where the build fails (no C++ compiler, no OpenMP) ``cpu_op_available()`` says
so once on stderr and callers use the pure-PyTorch path.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
import time
from pathlib import Path

import torch
from torch import Tensor

SOURCE = Path(__file__).with_name("hashgrid_cpu.cpp")
# -ffp-contract=off keeps a * b + c as two roundings, like the PyTorch path; -fno-math-errno
# lets the Adam step's square roots vectorise. -march=native is
# worth ~20% here; the build is per machine anyway, and a compiler that refuses it gets the
# portable flags.
FLAG_SETS = (["-O3", "-march=native", "-fopenmp", "-ffp-contract=off", "-fno-math-errno"],
             ["-O3", "-fopenmp", "-ffp-contract=off", "-fno-math-errno"])
LDFLAGS = ["-fopenmp"]
STALE_LOCK_S = 900  # a build lock older than this was left by a killed build (builds take < 2 min)


def cpu_identity() -> str:
    """The model and feature flags of this CPU (a -march=native build only runs on its like)."""
    try:
        with open("/proc/cpuinfo") as f:
            lines = [ln for ln in f if ln.startswith(("model name", "flags", "Features", "CPU part"))]
        return "".join(sorted(set(lines)))
    except OSError:
        return ""


def build_directory(cflags: list[str]) -> Path:
    """Where the op is built: one folder per source text, torch, Python, CPU and flag set."""
    from torch.utils.cpp_extension import get_default_build_root

    key = hashlib.sha256(SOURCE.read_bytes() + "\n".join(
        [torch.__version__, sys.version, cpu_identity(), *cflags, *LDFLAGS]).encode()).hexdigest()[:16]
    return Path(get_default_build_root()) / f"nerfspec_hashgrid_{key}"


def _build_and_load(cflags: list[str]) -> None:
    from torch.utils.cpp_extension import load

    build_dir = build_directory(cflags)
    build_dir.mkdir(parents=True, exist_ok=True)
    lock = build_dir / "lock"
    if lock.exists():
        if time.time() - lock.stat().st_mtime > STALE_LOCK_S:
            lock.unlink(missing_ok=True)  # left by a killed build; torch would wait on it forever
        else:
            print(f"note: waiting for another process's build of the hash-grid C++ op (delete {lock} "
                  "if none is running)", file=sys.stderr, flush=True)
    if not any(build_dir.glob("*.so")):
        print("note: compiling the hash-grid C++ op (first use only, 10-60 s)", file=sys.stderr, flush=True)
    load(name="nerfspec_hashgrid", sources=[str(SOURCE)], extra_cflags=cflags, extra_ldflags=LDFLAGS,
         build_directory=str(build_dir), is_python_module=False,
         verbose=bool(os.environ.get("NERFSPEC_VERBOSE_BUILD")))


@functools.lru_cache(maxsize=1)
def cpu_op_available() -> bool:
    """Build (first call only) and load the ops; False, said once on stderr, where that fails."""
    if hasattr(torch.ops.nerfspec_hashgrid, "forward"):
        return True
    error: Exception | None = None
    for cflags in FLAG_SETS:
        try:
            _build_and_load(cflags)
            return True
        except Exception as exc:  # any build or load failure: try the next flags, then PyTorch
            error = exc
    reason = " ".join(str(error).split())[:300]
    print(f"note: the hash-grid C++ op is unavailable ({type(error).__name__}: {reason}); "
          "using the PyTorch implementation", file=sys.stderr, flush=True)
    return False


class HashGridCpuFunction(torch.autograd.Function):
    """features = op(v, table) with d/d table from the op's backward; v gets no gradient.

    Callers that need d features / d v use the PyTorch path (``hash_grid_torch``).
    """

    @staticmethod
    def forward(ctx, v: Tensor, table: Tensor, offsets: list[int], resolutions: list[int],
                dense: list[int]) -> Tensor:
        ctx.save_for_backward(v)
        ctx.levels = (offsets, resolutions, dense)
        ctx.table_shape = table.shape
        return torch.ops.nerfspec_hashgrid.forward(v, table, offsets, resolutions, dense)

    @staticmethod
    def backward(ctx, grad: Tensor):
        if ctx.needs_input_grad[0]:
            raise RuntimeError("the hash-grid C++ op has no gradient for the positions")
        (v,) = ctx.saved_tensors
        grad_table = None
        if ctx.needs_input_grad[1]:
            rows, features = ctx.table_shape
            grad_table = torch.ops.nerfspec_hashgrid.backward(
                grad.float().contiguous(), v, rows, features, *ctx.levels)
        return None, grad_table, None, None, None


def hash_grid_cpu(v: Tensor, table: Tensor, offsets: list[int], resolutions: list[int],
                  dense: list[int]) -> Tensor:
    """(N, 3) float32 points in [0, 1]^3 -> (N, L F) features through the C++ op."""
    return HashGridCpuFunction.apply(v.contiguous(), table, offsets, resolutions, dense)
