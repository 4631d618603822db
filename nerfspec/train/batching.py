"""Training batches: random pixels over all training images, drawn on the training device."""

from __future__ import annotations

import dataclasses

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
        self.view_pixels = None  # views of different sizes: cumulative pixel counts (N + 1,)
        if self.cameras.sizes is not None:
            sizes = self.cameras.sizes.to(device)
            self.view_widths = sizes[:, 0]
            self.view_pixels = torch.cat([sizes.new_zeros(1), (sizes[:, 0] * sizes[:, 1]).cumsum(0)])
            self.total_pixels = int((self.cameras.sizes[:, 0] * self.cameras.sizes[:, 1]).sum())  # no sync per step

    def sample(self, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        """origins (n, 3), unit dirs (n, 3), straight rgba (n, 4) in [0, 1]."""
        return self.sample_with_views(n, generator)[:3]

    def sample_with_views(self, n: int, generator: torch.Generator, c2w: Tensor | None = None
                          ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``sample`` and the training image (n,) of each ray. ``c2w`` (N, 4, 4), when given,
        replaces the loaded poses (refined ones, whose gradients then reach the rays)."""
        cameras = self.cameras if c2w is None else dataclasses.replace(self.cameras, c2w=c2w)
        if self.view_pixels is not None:
            return self._sample_sized(n, generator, cameras)
        idx = torch.randint(self.pixels.shape[0], (n,), generator=generator, device=self.pixels.device)
        hw = self.width * self.height
        view, pix = idx // hw, idx % hw
        origins, dirs = cameras.rays(view, pix % self.width, pix // self.width)
        return origins, dirs, self.pixels[idx].float() / 255.0, view

    def _sample_sized(self, n: int, generator: torch.Generator, cameras
                      ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """``sample`` and the view (n,) of each ray, uniform over the pixels the views have (not
        the padding around smaller ones): draw u in [0, sum_k W_k H_k), view k with
        P_k <= u < P_(k+1) (P the cumulative counts), then pixel u - P_k of that view,
        row-major at its own width."""
        u = torch.randint(self.total_pixels, (n,), generator=generator, device=self.pixels.device)
        view = torch.searchsorted(self.view_pixels, u, right=True) - 1
        pix = u - self.view_pixels[view]
        w = self.view_widths[view]
        i, j = pix % w, pix // w
        origins, dirs = cameras.rays(view, i, j)
        idx = (view * self.height + j) * self.width + i
        return origins, dirs, self.pixels[idx].float() / 255.0, view


def draw_background(kind: str, n: int, generator: torch.Generator, device: torch.device) -> Tensor:
    """Background colours of a batch: (n, 3) uniform random for ``random`` (so the field cannot
    paint the background into the object), else the named colour (3,)."""
    if kind == "random":
        return torch.rand(n, 3, generator=generator, device=device)
    return background_colour(kind, device)
