"""Adaptive frequency enhancement (AFE, the RFF-CA note Sec. 8.5): find the strongest
frequencies of a residual on a regular grid, to inject them into the token bank as posterior
tokens (``RFFCANetwork.inject_frequencies``).

For a residual r sampled on a grid of n_i points over an extent L_i per axis (spacing
L_i / n_i, periodic as in the DFT), R_k = DFT(r)_k sits at frequency f_k = k_i / L_i cycles per
unit (numpy's ``fftfreq(n_i, L_i / n_i)``). With zeta = max_k |R_k| over the non-zero k, the
modes with |R_k| > lambda zeta are candidates, strongest first; k and -k are one real wave, so
only the half-space whose first non-zero coordinate is positive is kept. A peak between bins is
refined per axis from the magnitudes of its neighbours (``_bin_offsets``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def _canonical(k: np.ndarray) -> np.ndarray:
    """(P, d) integer frequencies, each flipped so that its first non-zero entry is positive."""
    first = np.argmax(k != 0, axis=1)
    sign = np.sign(k[np.arange(len(k)), first])
    return k * np.where(sign == 0, 1, sign)[:, None]


def residual_peaks(residual, extent, max_peaks: int = 4, threshold: float = 0.5,
                   exclude: Tensor | np.ndarray | None = None, refine: bool = True) -> Tensor:
    """The strongest non-DC frequencies of a residual on a regular grid.

    Args:
        residual: (n_1, ..., n_d) or (n_1, ..., n_d, C) values (channels are pooled by power).
        extent: (d,) length L_i of the grid along each axis, units of the coordinates.
        max_peaks: at most this many frequencies.
        threshold: lambda in (0, 1]: keep modes with |R_k| > lambda max |R|.
        exclude: (E, d) frequencies (cycles per unit) already in the bank; modes within half a
            bin of one of them, or of its negative, are skipped.
        refine: sub-bin refinement of each peak (per axis).
    Returns:
        (P, d) float32 frequencies in cycles per unit, P <= max_peaks, strongest first.
    """
    r = np.asarray(residual.detach().cpu() if isinstance(residual, Tensor) else residual, dtype=np.float64)
    extent = np.atleast_1d(np.asarray(extent, dtype=np.float64))
    d = len(extent)
    if r.ndim == d:
        r = r[..., None]
    if r.ndim != d + 1:
        raise ValueError(f"residual of shape {r.shape} does not match a {d}-D grid")
    shape = np.array(r.shape[:d])
    mag = np.sqrt((np.abs(np.fft.fftn(r, axes=tuple(range(d)))) ** 2).sum(axis=-1))  # (n_1..n_d)
    ints = np.stack(np.meshgrid(*[np.fft.fftfreq(n, 1.0 / n) for n in shape], indexing="ij"), -1)
    ints = np.rint(ints).astype(np.int64).reshape(-1, d)
    flat = mag.reshape(-1).copy()
    flat[np.all(ints == 0, axis=1)] = 0.0  # DC is a constant offset, not a wave
    keep = np.all(_canonical(ints) == ints, axis=1)
    nyq = np.all(2 * np.abs(ints) < shape, axis=1) | keep  # Nyquist bins alias onto themselves
    flat[~(keep & nyq)] = 0.0
    zeta = flat.max()
    if zeta <= 0:
        return torch.zeros(0, d)
    excl = None
    if exclude is not None and len(exclude):
        excl = np.asarray(exclude.cpu() if isinstance(exclude, Tensor) else exclude, np.float64) * extent
    out = []
    for i in np.argsort(-flat, kind="stable"):
        if flat[i] <= threshold * zeta or len(out) >= max_peaks:
            break
        k = ints[i].astype(np.float64)
        if excl is not None and np.any(np.all(np.abs(np.abs(excl) - np.abs(k)) <= 0.5, axis=1)):
            continue
        if refine:
            k = k + _bin_offsets(mag, ints[i], shape)
        out.append(k / extent)
    return torch.tensor(np.array(out), dtype=torch.float32).reshape(-1, d)


def _bin_offsets(mag: np.ndarray, k: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """(d,) sub-bin offsets in [-0.5, 0.5] of the peak at integer frequency k: per axis, with
    m0 = |R_k| and m+ / m- the neighbours' magnitudes, delta = m+ / (m0 + m+) towards the larger
    neighbour (exact for one complex tone under the DFT's rectangular window; 0 on a bin)."""
    off = np.zeros(len(k))
    idx = tuple(int(v) % int(n) for v, n in zip(k, shape))
    m0 = mag[idx]
    for a in range(len(k)):
        lo, hi = list(idx), list(idx)
        lo[a], hi[a] = (idx[a] - 1) % shape[a], (idx[a] + 1) % shape[a]
        m_lo, m_hi = mag[tuple(lo)], mag[tuple(hi)]
        if max(m_lo, m_hi) <= 1e-9 * m0:  # on a bin: the neighbours hold rounding noise only
            continue
        if m_hi >= m_lo:
            off[a] = m_hi / (m0 + m_hi)
        else:
            off[a] = -m_lo / (m0 + m_lo)
    return np.clip(off, -0.5, 0.5)


def afe_due(step: int, steps: int, fractions: list[float]) -> bool:
    """Whether step (0-based) of a ``steps``-long run is an AFE step: the first step at or after
    each fraction f of the run, floor(f * steps)."""
    return any(step == int(f * steps) for f in fractions)


def view_to_field_frequencies(peaks: Tensor, pose: Tensor, focal: float, depth: float,
                              box_size: float) -> Tensor:
    """Image-plane residual frequencies of a rendered view -> 3D frequencies of the field.

    The NeRF hook of AFE: the residual of a training view (rendered - ground truth) gives
    ``residual_peaks(resid (H, W, 3) transposed to (W, H, 3), [W, H])`` in cycles per pixel
    (x along columns, y along rows). At depth z a pixel spans z / f scene units, and image
    x, y run along the camera's +x and -y axes (Blender cameras, +y up), so a wave of
    (k_x, k_y) cycles per pixel on a surface facing the camera is

        b = (k_x R e_x - k_y R e_y) f / z * L   cycles per box-normalised unit,

    with R the pose's rotation and L the box's edge (positions are normalised by it).
    Surfaces seen at an angle compress the wave, so b is a lower bound on its true size.

    Args:
        peaks: (P, 2) cycles per pixel.
        pose: (4, 4) or (3, 3) camera-to-world.
        focal: f in pixels.
        depth: z, the view's typical depth (e.g. the median rendered depth), scene units.
        box_size: L, scene units per normalised unit.
    Returns:
        (P, 3) frequencies for ``RFFCANetwork.inject_frequencies``.
    """
    rot = pose[:3, :3].to(peaks)
    axes = torch.stack([rot[:, 0], -rot[:, 1]])  # (2, 3): image x and y in world coordinates
    return peaks @ axes * (focal / depth * box_size)
