"""Training batches: random pixels over all training images, drawn on the training device."""

from __future__ import annotations

import torch
from torch import Tensor

from nerfspec.data.blender import BlenderSplit
from nerfspec.render.background import background_colour


class RayBatcher:
    """Draws pixels uniformly over all pixels of all training images.

    The images (uint8) and cameras live on the training device and the indices are drawn there
    with the device's generator, so a step copies nothing from the host.
    """

    def __init__(self, split: BlenderSplit, device: torch.device):
        self.pixels = split.images.reshape(-1, 4).to(device)  # uint8, (N H W, 4)
        self.cameras = split.cameras.to(device)
        self.width, self.height = split.width, split.height

    def sample(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        """origins (n, 3), unit dirs (n, 3), straight rgba (n, 4) in [0, 1]."""
        return self.sample_with_views(n, generator)[:3]

    def sample_with_views(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``sample`` and the training image (n,) of each ray."""
        idx = torch.randint(self.pixels.shape[0], (n,), generator=generator, device=self.pixels.device)
        hw = self.width * self.height
        view, pix = idx // hw, idx % hw
        origins, dirs = self.cameras.rays(view, pix % self.width, pix // self.width)
        return origins, dirs, self.pixels[idx].float() / 255.0, view


def draw_background(kind: str, n: int, generator: torch.Generator, device: torch.device) -> Tensor:
    """Background colours of a batch: (n, 3) uniform random for ``random`` (so the field cannot
    paint the background into the object), else the named colour (3,)."""
    if kind == "random":
        return torch.rand(n, 3, generator=generator, device=device)
    return background_colour(kind, device)
