"""What the viewer shows of the field: one frame for one camera, either a preview
(``preview.render_preview``, while the camera moves) or drawn as evaluation draws it
(``render_image``, once it stops), as colour, depth or opacity."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from nerfspec.cameras import Cameras
from nerfspec.export.video import depth_panel, grey_panel
from nerfspec.render.renderer import render_image
from nerfspec.viewer.preview import PreviewSampling, render_preview

MODES = ("colour", "depth", "opacity")


def display_image(out: dict[str, Tensor], mode: str, near: float, far: float) -> np.ndarray:
    """The picture (H, W, 3) uint8 of one rendered view: ``colour`` is rgb composited on the
    background; ``depth`` the turbo-mapped mean depth over [near, far] on the background;
    ``opacity`` the accumulated opacity in grey."""
    if mode == "colour":
        img = out["rgb"]
    elif mode == "depth":
        img = depth_panel(out["depth"], out["opacity"], near, far, out["background"][0, 0])
    elif mode == "opacity":
        img = grey_panel(out["opacity"])
    else:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    return (img.clamp(0, 1) * 255.0 + 0.5).to(torch.uint8).numpy()


@dataclass
class Frame:
    """One frame sent to a browser: the picture, the full render it came from, its camera,
    whether it is a preview, and how long it took to render."""

    image: np.ndarray  # (H, W, 3) uint8
    render: dict  # render_image's outputs: rgb (H, W, 3), opacity, depth, background
    camera: Cameras
    mode: str
    preview: bool
    seconds: float


def render_frame(field, estimator, background, camera: Cameras, mode: str, near: float, far: float,
                 chunk_rays: int, preview: PreviewSampling | None = None) -> Frame:
    """View 0 of ``camera`` as ``mode`` (eval mode, no gradients): a preview sampled as
    ``preview`` says, or with ``preview`` None, ``render_image``'s frame."""
    t0 = time.perf_counter()
    was_training = field.training
    field.eval()
    try:
        if preview is None:
            out = render_image(field, estimator, camera, 0, background, chunk_rays)
        else:
            out = render_preview(field, estimator, camera, 0, background, preview)
    finally:
        field.train(was_training)
    return Frame(display_image(out, mode, near, far), out, camera, mode, preview is not None,
                 time.perf_counter() - t0)
