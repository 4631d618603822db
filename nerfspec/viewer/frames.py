"""What the viewer shows of the field: one frame for one camera, drawn by the renderer that
evaluation uses (``render_image``), and the rule that picks each frame's width.

Frames are cheap while the camera moves (``preview_width`` pixels wide) and refine to
``max_width`` once the camera has stood still for ``settle_s`` seconds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from nerfspec.cameras import Cameras
from nerfspec.export.video import depth_panel, grey_panel
from nerfspec.render.renderer import render_image

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
    """One frame sent to a browser: the picture, the full render it came from, its camera and
    how long it took."""

    image: np.ndarray  # (H, W, 3) uint8
    render: dict  # render_image's output: rgb (H, W, 3), opacity, depth, background
    camera: Cameras
    mode: str
    seconds: float


def render_frame(field, estimator, background, camera: Cameras, mode: str, near: float, far: float,
                 chunk_rays: int) -> Frame:
    """Render view 0 of ``camera`` with ``render_image`` (eval mode, no gradients) as ``mode``."""
    t0 = time.perf_counter()
    was_training = field.training
    field.eval()
    try:
        out = render_image(field, estimator, camera, 0, background, chunk_rays)
    finally:
        field.train(was_training)
    return Frame(display_image(out, mode, near, far), out, camera, mode, time.perf_counter() - t0)


@dataclass
class Refinement:
    """Picks the width of the next frame of one browser: ``preview_width`` while the camera moves,
    ``max_width`` once it has stood still ``settle_s`` seconds, nothing when the frame on screen
    is already the refined one for this camera."""

    preview_width: int = 256
    max_width: int = 512
    settle_s: float = 0.3

    def next_width(self, changed_at: float, now: float, shown_version: int, version: int,
                   shown_width: int) -> int | None:
        """Width of the frame to render now, or None. ``version`` counts camera or mode changes
        (the frame on screen was drawn at ``shown_version``, ``shown_width`` wide); ``changed_at``
        is when the last change came."""
        if shown_version != version:
            still = now - changed_at >= self.settle_s
            return self.max_width if still else self.preview_width
        if shown_width < self.max_width and now - changed_at >= self.settle_s:
            return self.max_width
        return None
