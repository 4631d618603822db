"""Small C++ CPU ops built on first use with torch's own extension builder.

The sources ship inside the package (``*.cpp`` beside this file), so an installed nerfspec
carries them. Each is compiled once per (source text, torch, Python, flags) into torch's
extension cache (``TORCH_EXTENSIONS_DIR``, default ``~/.cache/torch_extensions``) and loaded from
there afterwards. Where a build fails (no C++ compiler) ``load_op`` says so once on stderr and
returns False; callers then use their PyTorch path, which computes the same thing.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
from pathlib import Path

import torch

HERE = Path(__file__).parent
# -ffp-contract=off keeps a * b + c as two roundings, like the PyTorch paths the ops mirror.
CFLAGS = ("-O3", "-fopenmp", "-ffp-contract=off")
LDFLAGS = ("-fopenmp",)


def build_directory(name: str, source: Path, cflags=CFLAGS, ldflags=LDFLAGS) -> Path:
    """Where op ``name`` is built: one folder per source text, torch, Python and flag set."""
    from torch.utils.cpp_extension import get_default_build_root

    key = hashlib.sha256(source.read_bytes() + " ".join(
        [torch.__version__, sys.version, *cflags, *ldflags]).encode()).hexdigest()[:16]
    return Path(get_default_build_root()) / f"{name}_{key}"


@functools.lru_cache(maxsize=None)
def load_op(name: str, source: str, what: str, cflags=CFLAGS, ldflags=LDFLAGS) -> bool:
    """Build (first call only) and load the op library ``name`` from ``source`` (a file beside
    this module or a path); True when ``torch.ops.<name>`` is usable. ``what`` names the op
    in the one-line notes."""
    src = Path(source) if os.path.isabs(source) else HERE / source
    try:
        from torch.utils.cpp_extension import load

        build_dir = build_directory(name, src, cflags, ldflags)
        build_dir.mkdir(parents=True, exist_ok=True)
        if not any(build_dir.glob("*.so")):
            print(f"note: compiling the {what} C++ op (first use only, under a minute)",
                  file=sys.stderr, flush=True)
        load(name=name, sources=[str(src)], extra_cflags=list(cflags), extra_ldflags=list(ldflags),
             build_directory=str(build_dir), is_python_module=False,
             verbose=bool(os.environ.get("NERFSPEC_VERBOSE_BUILD")))
        return True
    except Exception as exc:  # any build or load failure means: use the PyTorch path
        reason = " ".join(str(exc).split())[:300]
        print(f"note: the {what} C++ op is unavailable ({type(exc).__name__}: {reason}); "
              "using the PyTorch implementation", file=sys.stderr, flush=True)
        return False
