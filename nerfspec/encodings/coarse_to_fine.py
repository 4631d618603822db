"""Coarse-to-fine frequency masks: one schedule for every mapping (BARF, Lin et al. 2021).

A mapping's features fall into bands k = 0..K-1 from coarse to fine (each encoding says which:
``pe`` octaves, ``hashgrid`` levels, ``gauss`` groups of features sorted by |b|, ``rffca``
octaves). At training fraction p the schedule ``field.c2f = [start, end]`` opens a window

    a(p) = k0 + (K - k0) clamp((p - start) / (end - start), 0, 1)

and band k is weighted by BARF's cosine ramp w_k = (1 - cos(pi clamp(a - k, 0, 1))) / 2: 0
before the window reaches it, 1 once it has passed, smooth in between. k0 is the number of
bands open from the start: 0 where the mapping also passes the raw input on (``pe`` with
include_input, as in BARF), 1 where band 0 is all the network would see.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def band_weights(window: float, bands: Tensor) -> Tensor:
    """w = (1 - cos(pi clamp(window - k, 0, 1))) / 2 for band indices k (any shape, float32)."""
    x = (window - bands.float()).clamp(0.0, 1.0)
    return 0.5 * (1.0 - torch.cos(math.pi * x))


def window_weights(window: float, count: int) -> Tensor:
    """(count,) float32 ``band_weights`` of bands 0..count-1: 1 for k <= window - 1, 0 for
    k >= window, a cosine ramp between."""
    return band_weights(window, torch.arange(count, dtype=torch.float32))


def c2f_window(fraction: float, start: float, end: float, bands: int, first_open: int = 0) -> float:
    """a(p) = k0 + (K - k0) clamp((p - start) / (end - start), 0, 1): the window over K =
    ``bands`` bands at training fraction p, with k0 = ``first_open`` bands always open."""
    ramp = min(max((fraction - start) / (end - start), 0.0), 1.0) if end > start else float(fraction >= start)
    return first_open + (bands - first_open) * ramp


def resolve_c2f(c2f: list[float], window_fraction: float) -> tuple[float, float] | None:
    """The schedule (start, end) of a field: ``field.c2f`` when given, else an encoding's older
    ``window_fraction`` f > 0 as (0, f); None when every band is open from the start."""
    if c2f:
        return float(c2f[0]), float(c2f[1])
    if window_fraction > 0:
        return 0.0, float(window_fraction)
    return None


def magnitude_bands(freqs: Tensor, bands: int) -> Tensor:
    """(m,) band of each frequency row of ``freqs`` (m, d): the rows sorted by |b| and cut into
    ``bands`` groups of (nearly) equal size, band = floor(rank * bands / m), so band 0 holds
    the lowest frequencies (the Gaussian mapping has no octaves of its own)."""
    m = freqs.shape[0]
    rank = torch.empty(m, dtype=torch.long, device=freqs.device)
    rank[torch.argsort(freqs.norm(dim=-1), stable=True)] = torch.arange(m, device=freqs.device)
    return rank * bands // m


def set_window(encoding, fraction: float, schedule: tuple[float, float] | None) -> float | None:
    """Move a maskable encoding's ``window`` to training fraction p under ``schedule`` (start,
    end) and return it (None, nothing changed, without a schedule). A maskable encoding has
    ``bands`` (K), ``first_open`` (k0) and ``window``."""
    if schedule is None:
        return None
    encoding.window = c2f_window(fraction, schedule[0], schedule[1], encoding.bands, encoding.first_open)
    return encoding.window
