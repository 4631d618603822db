"""Fourier input mappings gamma(v) with one contract: ``in_dim`` -> ``out_dim``, ``forward(v)``.

Positions arrive normalised to the unit box, v in [0, 1]^d (the scene AABB mapped to it), so a
frequency of f means f cycles across the box, in every scene. Frequencies follow Tancik et al.
(2020): gamma(v) = [cos(2 pi B v), sin(2 pi B v)] with the rows of B in cycles per unit.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from nerfspec.encodings.coarse_to_fine import band_weights, magnitude_bands, window_weights


def fourier_features(v: Tensor, freqs: Tensor) -> Tensor:
    """gamma(v) = [cos(2 pi v B^T), sin(2 pi v B^T)].

    Args:
        v: (N, d) points.
        freqs: (m, d) frequencies B in cycles per unit of v.
    Returns:
        (N, 2m) features; gamma(v1) . gamma(v2) = sum_j cos(2 pi b_j . (v1 - v2)) depends only
        on v1 - v2 (a stationary kernel).
    """
    proj = (2.0 * math.pi) * (v @ freqs.T)
    return torch.cat([torch.cos(proj), torch.sin(proj)], dim=-1)


def octave_frequencies(octaves: int, dim: int) -> Tensor:
    """Axis-aligned frequencies 2^k e_i, k = 0..octaves-1, i = 0..dim-1: (octaves * dim, dim)."""
    scales = 2.0 ** torch.arange(octaves, dtype=torch.float32)
    eye = torch.eye(dim)
    return (scales[:, None, None] * eye[None]).reshape(octaves * dim, dim)


class Encoding(nn.Module):
    """Base class: subclasses set ``in_dim`` and ``out_dim`` and map (N, in_dim) -> (N, out_dim)."""

    in_dim: int
    out_dim: int

    def forward(self, v: Tensor) -> Tensor:  # pragma: no cover - interface
        raise NotImplementedError


class IdentityEncoding(Encoding):
    """No mapping: gamma(v) = v (the spectrally biased baseline)."""

    def __init__(self, in_dim: int = 3):
        super().__init__()
        self.in_dim = self.out_dim = in_dim

    def forward(self, v: Tensor) -> Tensor:
        return v


class BasicEncoding(Encoding):
    """gamma(v) = [cos(2 pi v), sin(2 pi v)]: one cycle per unit on each axis, out_dim = 2 d."""

    def __init__(self, in_dim: int = 3):
        super().__init__()
        self.in_dim, self.out_dim = in_dim, 2 * in_dim
        self.register_buffer("freqs", torch.eye(in_dim), persistent=False)

    def forward(self, v: Tensor) -> Tensor:
        return fourier_features(v, self.freqs)


class PositionalEncoding(Encoding):
    """NeRF positional encoding: [v?, cos(2 pi 2^k v), sin(2 pi 2^k v)], k = 0..L-1.

    out_dim = 2 L d (+ d with ``include_input``). ``window`` in [0, L] eases octaves in as
    w_k = (1 - cos(pi clamp(window - k, 0, 1))) / 2 (the coarse-to-fine window of Nerfies and
    BARF); the default ``window = L`` leaves every octave at weight 1.
    """

    def __init__(self, in_dim: int = 3, octaves: int = 10, include_input: bool = True):
        super().__init__()
        self.in_dim, self.octaves, self.include_input = in_dim, octaves, include_input
        self.out_dim = 2 * octaves * in_dim + (in_dim if include_input else 0)
        self.register_buffer("freqs", octave_frequencies(octaves, in_dim), persistent=False)
        self.window = float(octaves)

    first_open = 0  # BARF's schedule: the raw input carries the coarsest information

    @property
    def bands(self) -> int:
        """Coarse-to-fine bands: the octaves."""
        return self.octaves

    def octave_weights(self) -> Tensor:
        """(L,) weights of the octaves under the current window."""
        return window_weights(self.window, self.octaves)

    def feature_bands(self) -> Tensor:
        """(2 L d,) octave of each Fourier feature ([cos, sin] of octave-major frequencies; the
        raw input, when included, is never masked)."""
        return torch.arange(self.octaves).repeat_interleave(self.in_dim).repeat(2)

    def forward(self, v: Tensor) -> Tensor:
        feats = fourier_features(v, self.freqs)
        if self.window < self.octaves:
            feats = feats * band_weights(self.window, self.feature_bands()).to(feats)
        return torch.cat([v, feats], dim=-1) if self.include_input else feats


class GaussianFourierEncoding(Encoding):
    """Gaussian random Fourier features: B ~ N(0, sigma^2) of shape (m, d), out_dim = 2 m.

    B is drawn once from ``generator`` and saved with the model (a buffer in the state dict),
    so a checkpoint reproduces the same mapping. For coarse-to-fine masks the rows, sorted by
    |b|, fall into ``bands`` groups of equal size (``magnitude_bands``); ``window`` in [0, bands]
    weights them with ``band_weights`` (the default ``window = bands`` leaves all at 1).
    """

    def __init__(self, in_dim: int = 3, features: int = 256, sigma: float = 4.0,
                 generator: torch.Generator | None = None, bands: int = 8):
        super().__init__()
        self.in_dim, self.out_dim, self.sigma = in_dim, 2 * features, sigma
        freqs = torch.randn(features, in_dim, generator=generator) * sigma
        self.register_buffer("freqs", freqs)
        self.bands = bands
        self.window = float(bands)

    first_open = 1  # the coarsest band is all the network would see

    def feature_bands(self) -> Tensor:
        """(2 m,) band of each feature: ``magnitude_bands`` of B, for the cos and the sin half."""
        return magnitude_bands(self.freqs, self.bands).repeat(2)

    def forward(self, v: Tensor) -> Tensor:
        feats = fourier_features(v, self.freqs)
        if self.window < self.bands:
            feats = feats * band_weights(self.window, self.feature_bands()).to(feats)
        return feats


def log_linear_frequencies(scale: float, per_axis: int, dim: int) -> Tensor:
    """Tancik et al.'s positional encoding: frequencies scale^(j/m) e_i, j = 0..m-1, per axis.

    Log-linearly spaced from 1 up to scale^((m-1)/m) (just below ``scale``) on each of the
    ``dim`` axes, cycles per unit. Returns (m * dim, dim), axis-major: rows i m .. (i+1) m - 1
    lie on axis i.
    """
    j = torch.arange(per_axis, dtype=torch.float64)
    mags = (float(scale) ** (j / per_axis)).float()
    eye = torch.eye(dim)
    return (eye[:, None, :] * mags[None, :, None]).reshape(dim * per_axis, dim)


class LogLinearEncoding(Encoding):
    """gamma(v) = [cos(2 pi s^(j/m) v_i), sin(2 pi s^(j/m) v_i)], j < m, for every axis i
    (Tancik et al. 2020, Sec. 6.1), out_dim = 2 m d. ``scale`` s is the sweepable top frequency;
    with m = features // d the mapping has about ``features`` frequencies like the Gaussian one.
    """

    def __init__(self, in_dim: int = 2, features: int = 256, scale: float = 10.0):
        super().__init__()
        per_axis = max(1, features // in_dim)
        self.in_dim, self.scale = in_dim, scale
        self.out_dim = 2 * per_axis * in_dim
        self.register_buffer("freqs", log_linear_frequencies(scale, per_axis, in_dim), persistent=False)

    def forward(self, v: Tensor) -> Tensor:
        return fourier_features(v, self.freqs)
