import math

import pytest
import torch

from nerfspec.encodings import (
    BasicEncoding,
    GaussianFourierEncoding,
    IdentityEncoding,
    LogLinearEncoding,
    PositionalEncoding,
    fourier_features,
    log_linear_frequencies,
    octave_frequencies,
)
from nerfspec.encodings.spherical import SphericalHarmonicsEncoding, spherical_harmonics


@pytest.mark.parametrize("enc,out_dim", [
    (IdentityEncoding(3), 3), (BasicEncoding(3), 6), (PositionalEncoding(3, 4, True), 27),
    (PositionalEncoding(3, 4, False), 24), (GaussianFourierEncoding(3, 16, 2.0), 32)])
def test_contract(enc, out_dim):
    assert enc.in_dim == 3 and enc.out_dim == out_dim
    assert enc(torch.rand(7, 3)).shape == (7, out_dim)


def test_fourier_kernel_is_stationary():
    """gamma(v1) . gamma(v2) depends only on v1 - v2."""
    freqs = torch.randn(64, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 3
    v1 = torch.rand(10, 3, dtype=torch.float64)
    shift = torch.rand(1, 3, dtype=torch.float64)
    k = (fourier_features(v1, freqs) * fourier_features(v1 + 0.3, freqs)).sum(-1)
    k_shift = (fourier_features(v1 + shift, freqs) * fourier_features(v1 + shift + 0.3, freqs)).sum(-1)
    torch.testing.assert_close(k, k_shift)
    expect = torch.cos(2 * math.pi * (freqs @ torch.full((3,), -0.3, dtype=torch.float64))).sum()
    torch.testing.assert_close(k, expect.expand(10))


def test_octave_frequencies():
    f = octave_frequencies(3, 2)
    assert f.tolist() == [[1, 0], [0, 1], [2, 0], [0, 2], [4, 0], [0, 4]]


def test_gaussian_frequencies_have_scale_and_are_saved():
    enc = GaussianFourierEncoding(3, 4096, 5.0, torch.Generator().manual_seed(1))
    assert enc.freqs.std().item() == pytest.approx(5.0, rel=0.05)
    other = GaussianFourierEncoding(3, 4096, 5.0, torch.Generator().manual_seed(2))
    other.load_state_dict(enc.state_dict())
    v = torch.rand(5, 3)
    torch.testing.assert_close(other(v), enc(v))


def test_pe_window_eases_octaves_in():
    enc = PositionalEncoding(1, 4, include_input=False)
    enc.window = 1.5
    w = enc.octave_weights()
    assert w[0] == 1.0 and 0 < w[1] < 1 and w[2] == 0 and w[3] == 0
    feats = enc(torch.rand(3, 1))
    assert (feats[:, [2, 3, 6, 7]] == 0).all()  # octaves 2, 3 of cos and sin are off


def test_pe_field_window_follows_training_progress():
    from nerfspec.config import FieldConfig, PEConfig
    from nerfspec.fields import build_field

    cfg = FieldConfig(encoding="pe", depth=1, width=8, precision="fp32",
                      pe=PEConfig(octaves=4, window_fraction=0.5))
    field = build_field(cfg, torch.tensor([-1.0, -1, -1, 1, 1, 1]))
    field.set_progress(0, 0.0)
    assert field.encoding.window == 0.0 and field.scalars()["pe/window"] == 0.0
    field.set_progress(10, 0.25)
    assert field.encoding.window == pytest.approx(2.0)
    field.set_progress(20, 0.9)
    assert field.encoding.window == 4.0


def test_spherical_harmonics_are_orthonormal():
    n = 200000  # a Fibonacci lattice: near-uniform points on the sphere
    i = torch.arange(n, dtype=torch.float64) + 0.5
    z = 1 - 2 * i / n
    phi = math.pi * (1 + 5 ** 0.5) * i
    r = (1 - z * z).sqrt()
    d = torch.stack([r * torch.cos(phi), r * torch.sin(phi), z], -1)
    y = spherical_harmonics(d, 4)
    gram = 4 * math.pi * y.T @ y / n
    torch.testing.assert_close(gram, torch.eye(16, dtype=torch.float64), atol=1e-3, rtol=0)
    assert SphericalHarmonicsEncoding(3)(d[:5].float()).shape == (5, 9)
    with pytest.raises(ValueError):
        spherical_harmonics(d, 5)


def test_spherical_harmonics_encoding_is_the_formula_as_one_matrix_product():
    d = torch.nn.functional.normalize(torch.randn(2000, 3, generator=torch.Generator().manual_seed(3)), dim=-1)
    for degree in (1, 2, 4):
        enc = SphericalHarmonicsEncoding(degree)
        torch.testing.assert_close(enc(d), spherical_harmonics(d, degree), atol=2e-6, rtol=0)


def test_log_linear_pe_frequencies():
    f = log_linear_frequencies(16.0, 4, 2)
    torch.testing.assert_close(f[:4, 0], torch.tensor([1.0, 2.0, 4.0, 8.0]))  # 16^(j/4)
    assert torch.all(f[:4, 1] == 0) and torch.all(f[4:, 0] == 0)
    assert LogLinearEncoding(2, 256, 10.0).out_dim == 512
