"""Process-wide tuning of the C allocator for the CPU path."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3  # glibc's mallopt parameters


def keep_freed_memory(mmap_threshold: int = 1 << 30, trim_threshold: int = 1 << 30,
                      top_pad: int = 1 << 28) -> bool:
    """Let glibc serve large blocks from its heap and keep freed memory for reuse.

    Rendering and training allocate and free tensors of tens of MB many times a second. By
    default glibc maps each such block fresh from the kernel and unmaps it when freed, so every
    reuse faults in and zero-fills its pages again: a third of a render's CPU time went to the
    kernel on this path. Returns whether the settings applied (glibc only; a no-op elsewhere).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = mallopt(M_MMAP_THRESHOLD, mmap_threshold) == 1
    ok &= mallopt(M_TRIM_THRESHOLD, trim_threshold) == 1
    ok &= mallopt(M_TOP_PAD, top_pad) == 1
    return bool(ok)
