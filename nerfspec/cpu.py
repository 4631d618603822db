"""This CPU as ``/proc/cpuinfo`` describes it (model name, feature flags), read in one place;
where the file does not exist (macOS, Windows), what the ``platform`` module knows."""

from __future__ import annotations

import functools
import platform

CPUINFO = "/proc/cpuinfo"


@functools.lru_cache(maxsize=1)
def cpuinfo_lines() -> tuple[str, ...]:
    """The lines of /proc/cpuinfo (read once), or () where it cannot be read."""
    try:
        with open(CPUINFO) as f:
            return tuple(f.read().splitlines())
    except OSError:
        return ()


def cpu_name() -> str:
    """The CPU's model name ("model name" in /proc/cpuinfo), else ``platform.processor()`` or
    ``platform.machine()``."""
    for line in cpuinfo_lines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The feature flags of the CPU's cores ("flags" on x86, "Features" on ARM)."""
    return frozenset(flag for line in cpuinfo_lines() if line.startswith(("flags", "Features"))
                     for flag in line.split(":", 1)[-1].split())


def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware (AMX or AVX-512 BF16)."""
    return bool({"amx_bf16", "avx512_bf16"} & cpu_flags())


def cpu_identity() -> str:
    """The model and feature-flag lines, sorted and without repeats: what a build for this exact
    CPU (-march=native) depends on."""
    keys = ("model name", "flags", "Features", "CPU part")
    return "".join(sorted({line + "\n" for line in cpuinfo_lines() if line.startswith(keys)}))
