"""PSNR and SSIM against scikit-image's, per-band PSNR on a hand-made band image."""

import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from nerfspec.evaluate import band_psnr
from nerfspec.metrics import gaussian_window, psnr, psnr_from_mse, ssim


def image_pair(seed: int, h: int = 37, w: int = 29, noise: float = 0.08):
    """A smooth image with edges and a noisy copy of it, both (H, W, 3) float64 in [0, 1]."""
    g = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    target = np.stack([0.5 + 0.4 * np.sin(6 * xx + c) * np.cos(4 * yy) for c in range(3)], -1)
    target[h // 3: h // 2, w // 4: w // 2] = 0.9  # a flat patch with sharp edges
    pred = np.clip(target + noise * g.standard_normal(target.shape), 0, 1)
    return pred, target


@pytest.mark.parametrize("seed,noise", [(0, 0.02), (1, 0.08), (2, 0.3)])
def test_psnr_agrees_with_skimage(seed, noise):
    pred, target = image_pair(seed, noise=noise)
    ours = psnr(torch.from_numpy(pred), torch.from_numpy(target))
    assert ours == pytest.approx(peak_signal_noise_ratio(target, pred, data_range=1.0), abs=1e-4)


@pytest.mark.parametrize("seed,noise", [(0, 0.02), (1, 0.08), (2, 0.3)])
def test_ssim_agrees_with_skimage(seed, noise):
    """The NeRF papers' SSIM: Gaussian window sigma 1.5 (11 taps), population statistics,
    the mean over the region where the window fits, per channel."""
    pred, target = image_pair(seed, noise=noise)
    ref = structural_similarity(target, pred, data_range=1.0, channel_axis=-1, gaussian_weights=True,
                                sigma=1.5, use_sample_covariance=False)
    ours = ssim(torch.from_numpy(pred), torch.from_numpy(target))
    assert ours == pytest.approx(ref, abs=1e-6)
    assert ssim(torch.from_numpy(target), torch.from_numpy(target)) == pytest.approx(1.0, abs=1e-12)


def test_gaussian_window_is_normalised_and_symmetric():
    w = gaussian_window(11, 1.5)
    assert w.shape == (11,) and float(w.sum()) == pytest.approx(1.0)
    assert torch.equal(w, w.flip(0)) and int(w.argmax()) == 5


def test_psnr_from_mse_floors_at_100_db():
    assert psnr_from_mse(0.01) == pytest.approx(20.0)
    assert psnr_from_mse(0.0) == pytest.approx(100.0)
    assert float(psnr_from_mse(torch.tensor([0.1, 0.0]))[1]) == pytest.approx(100.0)


def test_band_psnr_on_a_hand_made_band_image():
    """Three stripes: band index 1 (value 2) has error 0.1 in every channel, band 0 (value 1)
    error 0.02 in one channel of three, and value 0 (no band) a large error that must not count."""
    h, w = 6, 9
    target = torch.full((h, w, 3), 0.5)
    pred = target.clone()
    bands = torch.zeros(h, w, dtype=torch.uint8)
    bands[:, 0:3] = 1
    bands[:, 3:6] = 2
    pred[:, 0:3, 1] += 0.02
    pred[:, 3:6] += 0.1
    pred[:, 6:9] = 0.0
    out = band_psnr(pred, target, bands)
    assert sorted(out) == [0, 1]
    sse0, n0 = out[0]
    sse1, n1 = out[1]
    assert n0 == n1 == 18
    # SSE of the per-pixel channel-mean squared error
    assert sse0 == pytest.approx(18 * 0.02 ** 2 / 3, rel=1e-4)
    assert sse1 == pytest.approx(18 * 0.1 ** 2, rel=1e-4)
    assert -10 * math.log10(sse1 / n1) == pytest.approx(20.0, abs=1e-3)
    assert -10 * math.log10(sse0 / n0) == pytest.approx(-10 * math.log10(0.02 ** 2 / 3), abs=1e-3)
