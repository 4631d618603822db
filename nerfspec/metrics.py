"""Image metrics: PSNR and SSIM on float images in [0, 1]."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def psnr_from_mse(mse: float | Tensor) -> float | Tensor:
    """PSNR = -10 log10(MSE) for signals in [0, 1]."""
    if isinstance(mse, Tensor):
        return -10.0 * torch.log10(mse.clamp(min=1e-10))
    return -10.0 * math.log10(max(mse, 1e-10))


def psnr(pred: Tensor, target: Tensor) -> float:
    """PSNR in dB of two images (..., 3) in [0, 1]."""
    return float(psnr_from_mse(float(F.mse_loss(pred.float(), target.float()))))


def gaussian_window(size: int = 11, sigma: float = 1.5) -> Tensor:
    """Normalised 1D Gaussian (size,)."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    w = torch.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


def ssim(pred: Tensor, target: Tensor, size: int = 11, sigma: float = 1.5) -> float:
    """SSIM (Wang et al. 2004) of (H, W, 3) images in [0, 1], Gaussian window, valid region.

    SSIM = mean over pixels and channels of
    (2 mu_x mu_y + C1)(2 s_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(s_x^2 + s_y^2 + C2)),
    C1 = 0.01^2, C2 = 0.03^2 (the convention of the NeRF papers' evaluation code).
    """
    x = pred.double().permute(2, 0, 1)[:, None]  # (3, 1, H, W)
    y = target.double().permute(2, 0, 1)[:, None]
    w = gaussian_window(size, sigma)
    kx, ky = w.view(1, 1, 1, -1), w.view(1, 1, -1, 1)

    def blur(t: Tensor) -> Tensor:
        return F.conv2d(F.conv2d(t, kx), ky)

    mu_x, mu_y = blur(x), blur(y)
    s_xx = blur(x * x) - mu_x ** 2
    s_yy = blur(y * y) - mu_y ** 2
    s_xy = blur(x * y) - mu_x * mu_y
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    num = (2 * mu_x * mu_y + c1) * (2 * s_xy + c2)
    den = (mu_x ** 2 + mu_y ** 2 + c1) * (s_xx + s_yy + c2)
    return float((num / den).mean())
