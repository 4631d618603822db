"""Spectral analysis of image residuals: which spatial frequencies a field has not learned yet.

Following Rahaman et al.'s residual-spectrum experiment, the residual r = rendered - ground
truth of one view (H, W, C) is Fourier transformed, its power is averaged over rings of equal
radial frequency (cycles per pixel) and summed into frequency bands. Normalisation (Parseval):

    P[ky, kx] = mean over channels of |FFT2(r_c)[ky, kx]|^2 / (H W)^2,
    sum over (ky, kx) of P = mean of r^2 over pixels and channels = MSE,

so the band powers of a view add up to its MSE, and PSNR = -10 log10(sum of band powers).
All functions are pure (numpy in, numpy out).
"""

from __future__ import annotations

import math

import numpy as np


def radial_frequency(height: int, width: int) -> np.ndarray:
    """(H, W) radial frequency |k| = sqrt(fy^2 + fx^2) in cycles per pixel of each FFT bin.

    fy = fftfreq(H), fx = fftfreq(W) (numpy's FFT ordering), so values lie in
    [0, sqrt(0.5)]; 0.5 is the Nyquist frequency along an axis.
    """
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.fftfreq(width)[None, :]
    return np.sqrt(fy ** 2 + fx ** 2)


def power_spectrum(image: np.ndarray) -> np.ndarray:
    """(H, W) power spectrum of an image (H, W) or (H, W, C), mean over channels.

    P = |FFT2(x)|^2 / (H W)^2, so P.sum() == mean(x ** 2) (Parseval). Example: a constant
    image of value a has P[0, 0] = a^2 and zeros elsewhere.
    """
    x = np.asarray(image, dtype=np.float64)
    if x.ndim == 2:
        x = x[..., None]
    if x.ndim != 3:
        raise ValueError(f"expected an image (H, W) or (H, W, C), got shape {x.shape}")
    h, w = x.shape[:2]
    f = np.fft.fft2(x, axes=(0, 1))
    return (np.abs(f) ** 2).mean(axis=-1) / float(h * w) ** 2


def octave_band_edges(n_bands: int, top: float = 0.5) -> np.ndarray:
    """(n_bands + 1,) band edges in cycles per pixel, one octave per band below ``top``:

        [0, top / 2^(n-1), ..., top / 4, top / 2, inf]

    The first band holds DC and everything below top / 2^(n-1); the last band, [top / 2, inf),
    also takes the diagonal frequencies beyond Nyquist (up to sqrt(0.5)). For a 32-pixel image
    and 4 bands: [0, 1/16, 1/8, 1/4, inf) cycles per pixel = periods > 16, 8-16, 4-8, < 4 px.
    """
    if n_bands < 1:
        raise ValueError(f"n_bands must be >= 1, got {n_bands}")
    inner = [top / 2 ** k for k in range(n_bands - 1, 0, -1)]
    return np.array([0.0, *inner, math.inf])


def default_band_edges(height: int, width: int, max_bands: int = 6) -> np.ndarray:
    """Octave bands for an image: as many as fit above the lowest non-zero frequency
    1 / max(H, W) (at most ``max_bands``, at least 2)."""
    n = int(math.floor(math.log2(max(height, width) / 2.0))) + 1  # top / 2^(n-1) >= 1 / size
    return octave_band_edges(max(2, min(max_bands, n)))


def band_index(freq: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Band of each frequency: b with edges[b] <= f < edges[b + 1] (same shape as ``freq``)."""
    return np.clip(np.searchsorted(edges, freq, side="right") - 1, 0, len(edges) - 2)


def band_power(power: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """(B,) total power per band: sum of P over the bins whose radial frequency is in band b.

    With P from ``power_spectrum`` the bands add up to the image's mean square. Example: the
    residual 0.1 sin(2 pi 4 x / W) of a W-pixel-wide image puts 0.1^2 / 2 = 0.005 into the
    band that holds 4 / W cycles per pixel and nothing elsewhere.
    """
    h, w = power.shape
    idx = band_index(radial_frequency(h, w), edges)
    return np.bincount(idx.ravel(), weights=power.ravel(), minlength=len(edges) - 1)


def radial_average(power: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """(B,) radially averaged power: mean of P over the bins of each band (NaN if none).

    White noise of variance s^2 has the flat expected spectrum s^2 / (H W) in every bin,
    so its radial average is about s^2 / (H W) in every band.
    """
    h, w = power.shape
    idx = band_index(radial_frequency(h, w), edges).ravel()
    total = np.bincount(idx, weights=power.ravel(), minlength=len(edges) - 1)
    count = np.bincount(idx, minlength=len(edges) - 1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def residual_band_power(pred: np.ndarray, target: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """(B,) band powers of the residual pred - target (both (H, W) or (H, W, C)).

    Sums to the MSE of the two images: -10 log10(sum) is their PSNR.
    """
    return band_power(power_spectrum(np.asarray(pred, np.float64) - np.asarray(target, np.float64)),
                      edges)


def band_labels(edges: np.ndarray) -> list[str]:
    """Readable names of bands as periods in pixels, e.g. ['>16 px', '8-16 px', '<4 px']."""
    def period(f: float) -> str:
        p = 1.0 / f
        return f"{p:.0f}" if abs(p - round(p)) < 1e-6 else f"{p:.2g}"

    labels = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        if lo <= 0:
            labels.append(f">{period(hi)} px")
        elif math.isinf(hi):
            labels.append(f"<{period(lo)} px")
        else:
            labels.append(f"{period(hi)}-{period(lo)} px")
    return labels


def power_db(power: float) -> float:
    """10 log10(power): a residual band's power in dB (its share of -PSNR)."""
    return 10.0 * math.log10(max(power, 1e-12))
