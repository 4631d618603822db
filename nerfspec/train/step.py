"""The maths of one training step: render a batch, photometric loss, gradients, and whether the
step is finite — all as device tensors, so the step never waits for the host."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nerfspec.data.blender import composite
from nerfspec.render.renderer import RenderResult, render_rays
from nerfspec.train.regularisers import background_opacity_loss, distortion_loss


def photometric_loss(rgb: Tensor, rgba: Tensor, background: Tensor) -> Tensor:
    """MSE between rendered colours (N, 3) and the pixels' straight rgba (N, 4) composited on the
    same background ((N, 3) or (3,)) the render was composited on. A learned background is
    taught by what the render shows of it, not by the target's transparent pixels (detached)."""
    return F.mse_loss(rgb, composite(rgba, background.detach()))


def step_is_finite(loss: Tensor, params: list[nn.Parameter], gradients_only: bool = False) -> Tensor:
    """() bool tensor: the loss and the global gradient norm are finite (only the gradients with
    ``gradients_only``, e.g. after a data-parallel average every rank shares). True when no
    parameter has a gradient."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.ones((), dtype=torch.bool, device=loss.device)
    norm = torch.nn.utils.get_total_norm(grads).float()
    return torch.isfinite(norm) if gradients_only else torch.isfinite(loss.detach().float() + norm)


def forward_backward(field, estimator, origins: Tensor, dirs: Tensor, rgba: Tensor,
                     background: Tensor, early_stop: str = "separate", distortion_weight: float = 0.0,
                     background_opacity_weight: float = 0.0, appearance=None,
                     views: Tensor | None = None) -> tuple[RenderResult, Tensor]:
    """Render the batch (``early_stop``: see ``render_rays``), compute the photometric loss plus
    the weighted regularisers (``nerfspec.train.regularisers``) and backpropagate it into the
    field's gradients (which the caller zeroed). With ``appearance`` (fields/appearance.py) the
    rendered colours go through the response of each ray's training image ``views`` (N,)
    before the loss. Returns the photometric loss alone (what PSNR is read from). A batch
    without samples has no gradient; its loss is still returned."""
    out = render_rays(field, estimator, origins, dirs, background, early_stop)
    rgb = out.rgb if appearance is None else appearance(out.rgb, views)
    loss = photometric_loss(rgb, rgba, background)
    if out.n_samples > 0:
        total = loss
        if distortion_weight > 0:
            s = out.samples
            total = total + distortion_weight * distortion_loss(out.weights, s.t_starts, s.t_ends,
                                                                s.ray_indices, origins.shape[0])
        if background_opacity_weight > 0:
            total = total + background_opacity_weight * background_opacity_loss(out.opacity, rgba)
        total.backward()
    return out, loss
