"""Allocator tuning applies on glibc and leaves tensors working."""

from __future__ import annotations

import platform

import torch

from nerfspec.memory import keep_freed_memory


def test_keep_freed_memory_applies_on_glibc():
    applied = keep_freed_memory()
    assert isinstance(applied, bool)
    if platform.libc_ver()[0] == "glibc":
        assert applied
    big = torch.ones(8 << 20)  # 32 MB: served from the heap now, and freed back to it
    assert float(big.sum()) == float(8 << 20)
    del big
    assert float(torch.ones(8 << 20).sum()) == float(8 << 20)
