"""The multiscale random Fourier token bank of RFF-CA (Feng et al. 2025), in the paper's units.

Base frequencies b_m ~ N(0, sigma^2 I), m = 1..M, in cycles per unit of the normalised input;
octave k = 0..K holds omega_{k,m} = 2^k b_m, so the frequencies of octave k have standard
deviation 2^k sigma per axis. Each point v gets the features

    phi_{k,m}(v) = exp(-beta |omega_{k,m}|) cos(2 pi omega_{k,m} . v + phase_{k,m})

laid out octave-major, (N, K+1, M), and cut into tokens of d_q consecutive features. Because
M is a multiple of d_q, every token holds frequencies of one octave only, so a mask per
octave is a mask per group of tokens.

Units. The note on RFF-CA (Feng et al. 2025, Sec. 8.2) writes omega_m ~ N(0, sigma_note^-2 I)
in radians per unit, cos(omega . x + b). Here b_m = omega_m / (2 pi) in cycles per unit, so
its std is sigma = 1 / (2 pi sigma_note) (``note_sigma`` converts). With ``normalise`` (the
note's variant) the base features carry the note's factor sqrt(1 / M), M = (K+1) M_base.

Posterior tokens (adaptive frequency enhancement, note Sec. 8.5) are appended after the base
tokens: one token per injected frequency f_p, holding d_q copies of it at evenly spread phases,
so that attention can build any phase of the injected wave (``posterior_features``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nerfspec.encodings.coarse_to_fine import band_weights


def dyadic_frequencies(base: Tensor, octaves: int) -> Tensor:
    """omega_{k,m} = 2^k b_m for k = 0..octaves.

    Args:
        base: (M, d) base frequencies b_m, cycles per unit.
        octaves: K; the bank holds K + 1 octaves.
    Returns:
        (K+1, M, d) frequencies.
    """
    scales = 2.0 ** torch.arange(octaves + 1, dtype=base.dtype, device=base.device)
    return scales[:, None, None] * base[None]


def bank_features(v: Tensor, freqs: Tensor, phase: Tensor, beta: Tensor) -> Tensor:
    """phi_{k,m}(v) = exp(-beta |omega_{k,m}|) cos(2 pi omega_{k,m} . v + phase_{k,m}).

    Computed in float32 whatever the ambient autocast: 2 pi omega . v reaches hundreds of
    radians, where bf16 has no digits left for the phase.

    Args:
        v: (N, d) points.
        freqs: (K+1, M, d) frequencies omega, cycles per unit.
        phase: (K+1, M) phases, radians.
        beta: () envelope rate, >= 0, per cycle-per-unit of |omega|.
    Returns:
        (N, K+1, M) features in [-1, 1].
    """
    n_oct, m, d = freqs.shape
    with torch.autocast(device_type=v.device.type, enabled=False):
        flat = freqs.reshape(n_oct * m, d).float()
        proj = (2.0 * math.pi) * (v.float() @ flat.T) + phase.reshape(-1).float()
        amp = torch.exp(-beta.float() * flat.norm(dim=-1))
        return (torch.cos(proj) * amp).view(v.shape[0], n_oct, m)


def to_tokens(features: Tensor, token_dim: int) -> Tensor:
    """Cut (N, K+1, M) features into (N, (K+1) M / d_q, d_q) tokens, octave by octave.

    Token t holds the flat features [t d_q, (t+1) d_q); with M a multiple of d_q it lies in
    octave t d_q // M (see ``token_octaves``).
    """
    n, n_oct, m = features.shape
    if m % token_dim:
        raise ValueError(f"{m} features per octave are not a multiple of the token width {token_dim}")
    return features.reshape(n, n_oct * m // token_dim, token_dim)


def token_octaves(octaves: int, base_features: int, token_dim: int) -> Tensor:
    """(T,) octave index of each token, T = (K+1) M / d_q: [0]*(M/d_q) + [1]*(M/d_q) + ..."""
    if base_features % token_dim:
        raise ValueError(f"{base_features} features per octave are not a multiple of the token "
                         f"width {token_dim}")
    return torch.arange(octaves + 1).repeat_interleave(base_features // token_dim)


def release_weights(fraction: float, octaves: int, release_fraction: float) -> Tensor:
    """(K+1,) weights in [0, 1] of the coarse-to-fine schedule at training fraction f.

    Octave 0 always has w_0 = 1. Octave k >= 1 is released over the k-th of K equal slices
    of [0, R] (R = ``release_fraction``): with s = clamp(f K / R - (k - 1), 0, 1),
    w_k = (1 - cos(pi s)) / 2, so w_k(0) = 0 and w_k(f) = 1 for f >= k R / K.
    """
    k = torch.arange(octaves + 1, dtype=torch.float64)
    if octaves == 0:
        return torch.ones(1, dtype=torch.float32)
    s = (fraction * octaves / release_fraction - (k - 1)).clamp(0.0, 1.0)
    w = 0.5 * (1.0 - torch.cos(math.pi * s))
    w[0] = 1.0
    return w.float()


def scheduled_octave_mask(fraction: float, octaves: int, release_fraction: float,
                          mask_init: float) -> Tensor:
    """(K+1,) additive attention-logit mask of the schedule: eta_k = max(log w_k(f), mask_init).

    Adding log w_k to the logits of octave k's tokens multiplies their unnormalised attention
    weights by w_k (``release_weights``), so the octave fades in smoothly; fully masked
    octaves sit at ``mask_init`` (< 0, e.g. -30) and released ones at exactly 0.
    """
    w = release_weights(fraction, octaves, release_fraction)
    return torch.log(w).clamp(min=mask_init)


def octave_attention(attn: Tensor, tok_octave: Tensor, octaves: int) -> Tensor:
    """(K+1,) attention mass per octave: sum over the octave's tokens, mean over the rest.

    Args:
        attn: (..., T) attention weights (each row sums to 1).
        tok_octave: (T,) octave of each token.
    """
    mean = attn.float().reshape(-1, attn.shape[-1]).mean(dim=0)
    out = torch.zeros(octaves + 1, dtype=mean.dtype, device=mean.device)
    return out.index_add_(0, tok_octave.to(mean.device), mean)


def note_sigma(sigma: float) -> float:
    """sigma_note of the note's omega ~ N(0, sigma_note^-2) (radians per unit) that gives base
    frequencies of std ``sigma`` cycles per unit: sigma_note = 1 / (2 pi sigma) (an involution)."""
    return 1.0 / (2.0 * math.pi * sigma)


def posterior_features(v: Tensor, freqs: Tensor, token_dim: int, amplitude: float) -> Tensor:
    """phi_{p,j}(v) = a cos(2 pi f_p . v + 2 pi j / d_q), j = 0..d_q-1: one token per frequency.

    Args:
        v: (N, d) points.
        freqs: (P, d) injected frequencies f_p, cycles per unit.
        token_dim: d_q.
        amplitude: a (the note's sqrt(2 / M_post) with M_post = P d_q, or 1).
    Returns:
        (N, P, d_q) float32 tokens.
    """
    with torch.autocast(device_type=v.device.type, enabled=False):
        proj = (2.0 * math.pi) * (v.float() @ freqs.float().T)  # (N, P)
        shift = (2.0 * math.pi / token_dim) * torch.arange(token_dim, device=v.device, dtype=torch.float32)
        return amplitude * torch.cos(proj[:, :, None] + shift)


def inverse_softplus(y: float) -> float:
    """x with softplus(x) = y (y > 0)."""
    return y + math.log(-math.expm1(-y))


class TokenBank(nn.Module):
    """v (N, d) -> tokens H(v) (N, T, d_q) with T = (K+1) M / d_q.

    Buffers: ``base`` (M, d) b_m ~ N(0, sigma^2 I) from ``generator`` (saved with the model)
    and ``tok_octave`` (T,). Parameters: ``phase`` (K+1, M), uniform in [0, 2 pi) at start,
    and ``raw_beta`` with beta = softplus(raw_beta) >= 0. ``post_freqs`` (P, d) holds the
    frequencies injected by ``inject`` (P = 0 at start); their tokens follow the base tokens.
    """

    def __init__(self, in_dim: int, base_features: int, octaves: int, sigma: float,
                 token_dim: int, envelope_init: float = 1e-3,
                 generator: torch.Generator | None = None, normalise: bool = False):
        super().__init__()
        if base_features % token_dim:
            raise ValueError(f"base_features ({base_features}) must be a multiple of token_dim "
                             f"({token_dim}) so that no token mixes two octaves")
        self.in_dim, self.octaves, self.sigma = in_dim, octaves, sigma
        self.base_features, self.token_dim = base_features, token_dim
        self.n_tokens = (octaves + 1) * base_features // token_dim
        self.register_buffer("base", torch.randn(base_features, in_dim, generator=generator) * sigma)
        self.register_buffer("tok_octave", token_octaves(octaves, base_features, token_dim),
                             persistent=False)
        phase = torch.rand(octaves + 1, base_features, generator=generator) * (2.0 * math.pi)
        self.phase = nn.Parameter(phase)
        self.raw_beta = nn.Parameter(torch.tensor(inverse_softplus(envelope_init)))
        self.normalise = normalise
        self.register_buffer("post_freqs", torch.zeros(0, in_dim))
        self.window = float(octaves + 1)

    first_open = 1  # coarse-to-fine: octave 0 is always open

    @property
    def bands(self) -> int:
        """Coarse-to-fine bands: the octaves 0..K."""
        return self.octaves + 1

    def feature_bands(self) -> Tensor:
        """(K+1, M) octave of each base feature (injected tokens are never masked)."""
        return torch.arange(self.octaves + 1)[:, None].expand(-1, self.base_features)

    @property
    def n_posterior(self) -> int:
        return int(self.post_freqs.shape[0])

    def inject(self, freqs: Tensor) -> None:
        """Append posterior tokens at ``freqs`` (P, d), cycles per unit."""
        freqs = freqs.to(self.post_freqs).reshape(-1, self.in_dim)
        self.post_freqs = torch.cat([self.post_freqs, freqs], dim=0)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        key = prefix + "post_freqs"
        if key in state_dict:  # a checkpoint may hold more injected tokens than a fresh bank
            self.post_freqs = torch.zeros_like(state_dict[key]).to(self.post_freqs.device)
        else:  # checkpoints written before injection existed have none
            state_dict[key] = torch.zeros(0, self.in_dim)
            self.post_freqs = torch.zeros(0, self.in_dim, device=self.post_freqs.device)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @property
    def beta(self) -> Tensor:
        return F.softplus(self.raw_beta)

    def frequencies(self) -> Tensor:
        """(K+1, M, d) omega_{k,m} = 2^k b_m."""
        return dyadic_frequencies(self.base, self.octaves)

    def forward(self, v: Tensor) -> Tensor:
        """(N, T + P, d_q): the base tokens, then one token per injected frequency."""
        feats = bank_features(v, self.frequencies(), self.phase, self.beta)
        if self.window < self.bands:  # coarse-to-fine: octave k's features weighted by w_k
            feats = feats * band_weights(self.window, self.feature_bands()).to(feats)
        if self.normalise:
            feats = feats * (1.0 / math.sqrt(feats.shape[1] * feats.shape[2]))
        tokens = to_tokens(feats, self.token_dim)
        if self.n_posterior == 0:
            return tokens
        amp = math.sqrt(2.0 / (self.n_posterior * self.token_dim)) if self.normalise else 1.0
        post = posterior_features(v, self.post_freqs, self.token_dim, amp)
        return torch.cat([tokens, post], dim=1)
