"""Per-image appearance: the colour response of each training photo (exposure and white
balance differ between phone photos), learned beside the field so the field need not bake one
photo's exposure into the scene.

Image i has a 12-number embedding, a matrix A_i (3, 3) and an offset b_i (3,), applied to the
colour rendered for its pixels: rgb' = A_i rgb + b_i (a diagonal A_i is an exposure and white
balance per channel; the off-diagonal terms absorb a colour matrix). They start at A_i = I,
b_i = 0, so at the start every image sees exactly the field's colours. A view that was not
trained on (test views, video frames) takes the embedding of its nearest training view
(``nearest_views``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

MODES = ("auto", "off", "per_image")


class Appearance(nn.Module):
    """rgb' = A_i rgb + b_i for each ray's image i (see the module docstring)."""

    def __init__(self, n_views: int):
        super().__init__()
        self.matrix = nn.Parameter(torch.eye(3).repeat(n_views, 1, 1))
        self.offset = nn.Parameter(torch.zeros(n_views, 3))

    def forward(self, rgb: Tensor, views: Tensor) -> Tensor:
        """Colours (N, 3) of rays from training images ``views`` (N,) -> (N, 3)."""
        return torch.einsum("nij,nj->ni", self.matrix[views], rgb.float()) + self.offset[views]

    @torch.no_grad()  # rendered images come from inference mode; no gradient flows back here
    def image(self, rgb: Tensor, view: int) -> Tensor:
        """A whole rendered image (H, W, 3) as training image ``view`` would show it."""
        flat = rgb.reshape(-1, 3).to(self.matrix.device)
        views = torch.full((flat.shape[0],), view, dtype=torch.long, device=flat.device)
        return self(flat, views).reshape(rgb.shape).to(rgb.device)


def nearest_views(train_poses: Tensor, poses: Tensor) -> Tensor:
    """(M,) index of the training camera nearest each camera: camera-to-world ``train_poses``
    (T, 4, 4), ``poses`` (M, 4, 4); distance ||o_t - o_m|| / s + (1 - f_t . f_m), o the
    centres, f the unit viewing directions (-z), s the training cameras' mean distance from
    their mean centre (so position and direction weigh alike in any scene's units)."""
    o_t, o_m = train_poses[:, :3, 3].float(), poses[:, :3, 3].float()
    f_t = -nn.functional.normalize(train_poses[:, :3, 2].float(), dim=-1)
    f_m = -nn.functional.normalize(poses[:, :3, 2].float(), dim=-1)
    s = (o_t - o_t.mean(dim=0)).norm(dim=-1).mean().clamp(min=1e-9)
    d = torch.cdist(o_m, o_t) / s + (1.0 - f_m @ f_t.T)
    return d.argmin(dim=-1)


def appearance_enabled(mode: str, capture: bool) -> bool:
    """``train.appearance``: per_image on, off off; auto on for captures (photos) and off for
    Blender scenes (renders share one exposure)."""
    return mode == "per_image" or (mode == "auto" and capture)
