"""Input mappings gamma(v) with one contract: ``in_dim`` -> ``out_dim``, ``forward(v)``.

Positions arrive normalised to the unit box, v in [0, 1]^d. ``fourier``: none | basic | pe |
gauss; ``hashgrid``: the multiresolution hash encoding; ``spherical``: view directions.
"""

from nerfspec.encodings.fourier import (
    BasicEncoding,
    Encoding,
    GaussianFourierEncoding,
    IdentityEncoding,
    LogLinearEncoding,
    PositionalEncoding,
    fourier_features,
    log_linear_frequencies,
    octave_frequencies,
    window_weights,
)

__all__ = [
    "BasicEncoding",
    "Encoding",
    "GaussianFourierEncoding",
    "IdentityEncoding",
    "LogLinearEncoding",
    "PositionalEncoding",
    "fourier_features",
    "log_linear_frequencies",
    "octave_frequencies",
    "window_weights",
]
