"""2D image regression (Tancik et al. 2020): fit the 1/4 grid of an image, score the other 3/4.

The network maps v in [0, 1)^2 to RGB logits; the loss is the L2 error of sigmoid(logits),
full batch, Adam; PSNR = -10 log10(MSE) on the test pixels. Curve points also hold the
residual's band powers over the full image (``nerfspec.spectrum``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nerfspec.config import RFFCAConfig
from nerfspec.fields.afe import afe_due, residual_peaks
from nerfspec.fields.rffca import RFFCANetwork
from nerfspec.fit.images import grid_coords, split_masks
from nerfspec.fit.networks import build_network, parameter_count
from nerfspec.fit.optimise import FitSettings, train_regression
from nerfspec.metrics import psnr_from_mse
from nerfspec.spectrum import default_band_edges, residual_band_power


class ImageSettings(FitSettings):
    """The image protocol's knobs: Tancik et al.'s values are ``FitSettings``' defaults
    (2000 full-batch steps, Adam lr 1e-3, 4x256, 256 frequencies)."""


def predict_image(model: nn.Module, coords: Tensor, chunk: int = 65536) -> Tensor:
    """sigmoid(model(v)) on (S, S, 2) coordinates -> (S, S, 3)."""
    flat = coords.reshape(-1, 2)
    out = torch.cat([torch.sigmoid(model(c)) for c in flat.split(chunk)])
    return out.reshape(*coords.shape[:2], 3)


def image_afe(model: nn.Module, x_train: Tensor, y_train: Tensor, half: int, cfg: RFFCAConfig):
    """The AFE step on an image: peaks of the residual on the (S/2, S/2) training grid, which
    spans one unit per axis, injected into the RFF-CA bank; returns the frequencies."""
    net = getattr(model, "net", None)
    if not isinstance(net, RFFCANetwork):
        return None
    with torch.no_grad():
        resid = (torch.sigmoid(model(x_train)) - y_train).reshape(half, half, 3)
    # grid rows are y, columns x: transpose so that axis 0 is x like the coordinates
    freqs = residual_peaks(resid.transpose(0, 1), [1.0, 1.0], cfg.afe_tokens, cfg.afe_threshold,
                           exclude=net.bank.post_freqs)
    if len(freqs):
        net.inject_frequencies(freqs)
    return freqs


def fit_image(image: Tensor, mapping: str, scale: float, settings: ImageSettings) -> tuple[dict, Tensor]:
    """Train ``mapping`` at ``scale`` on one (S, S, 3) image -> (row, final prediction (S, S, 3)).

    The row holds test_psnr, train_psnr, the curve ({"step", "elapsed_s", "test_psnr",
    "band_power"}), band edges, params, train seconds and AFE injections.
    """
    size = image.shape[0]
    coords = grid_coords(size)
    train_mask, test_mask = split_masks(size)
    x_tr, y_tr = coords[train_mask], image[train_mask]
    y_te = image[test_mask]
    model = build_network(mapping, 2, 3, scale, depth=settings.depth, width=settings.width,
                          features=settings.features, rffca=settings.rffca,
                          precision=settings.precision, seed=settings.seed)
    edges = default_band_edges(size, size)

    def evaluate(m: nn.Module) -> dict:
        pred = predict_image(m, coords)
        mse = float(F.mse_loss(pred[test_mask], y_te))
        power = residual_band_power(pred.numpy(), image.numpy(), edges)
        return {"test_psnr": float(psnr_from_mse(mse)), "band_power": power.tolist()}

    cfg = settings.rffca or RFFCAConfig()

    def afe(step, m):
        if afe_due(step, settings.steps, cfg.afe_at):
            return image_afe(m, x_tr, y_tr, size // 2, cfg)
        return None

    trace = train_regression(model, settings.steps, settings.lr, lambda step: (x_tr, y_tr),
                             lambda logits, y: F.mse_loss(torch.sigmoid(logits), y), evaluate,
                             settings.curve_points, settings.lr_final_factor, afe=afe if mapping == "rffca" and cfg.afe_at else None, progress=settings.progress,
                             desc=f"{mapping} {scale:g}")
    with torch.no_grad():
        pred = predict_image(model, coords)
        train_psnr = float(psnr_from_mse(float(F.mse_loss(pred[train_mask], y_tr))))
    row = {"test_psnr": trace.curve[-1]["test_psnr"], "train_psnr": train_psnr,
           "params": parameter_count(model), "train_s": trace.train_s, "steps": settings.steps,
           "curve": trace.curve, "band_edges": [float(e) if math.isfinite(e) else None for e in edges],
           "afe": trace.afe}
    return row, pred
