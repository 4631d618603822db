"""Learned backgrounds: the colour a ray sees beyond the scene box, by its direction alone.

Real captures do not end at a box: whatever lies far outside it (sky, walls, distant
scenery) is modelled as an environment at infinity, as NeRF++ and nerfstudio do for their
background. The renderer composites the field onto ``background(dirs)`` (N, 3) instead of a
fixed colour; the module's parameters train with the field's (``parameters()`` is one
optimiser parameter group).

* ``constant``: one learned colour, c = sigmoid(theta).
* ``mlp``: rgb = sigmoid(MLP(gamma(d))), gamma the positional encoding of the unit direction d
  (``dir_octaves`` octaves, input included), a ``depth`` x ``width`` ReLU MLP.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nerfspec.encodings import PositionalEncoding

MODELS = ("none", "constant", "mlp")


class ConstantBackground(nn.Module):
    """One learned colour for every ray, starting at grey (theta = 0)."""

    def __init__(self):
        super().__init__()
        self.logit = nn.Parameter(torch.zeros(3))

    def forward(self, dirs: Tensor) -> Tensor:
        """(N, 3) unit directions -> (N, 3) colours in (0, 1)."""
        return torch.sigmoid(self.logit).to(dirs.dtype).expand(dirs.shape[0], 3)


class DirectionalBackground(nn.Module):
    """rgb = sigmoid(MLP(gamma(d))) of unit ray directions d (N, 3)."""

    def __init__(self, width: int = 64, depth: int = 2, dir_octaves: int = 4):
        super().__init__()
        self.encoding = PositionalEncoding(3, dir_octaves, include_input=True)
        layers: list[nn.Module] = []
        dim = self.encoding.out_dim
        for _ in range(depth):
            layers += [nn.Linear(dim, width), nn.ReLU(inplace=True)]
            dim = width
        layers.append(nn.Linear(dim, 3))
        self.mlp = nn.Sequential(*layers)

    def forward(self, dirs: Tensor) -> Tensor:
        """(N, 3) unit directions -> (N, 3) colours in (0, 1), float32."""
        return torch.sigmoid(self.mlp(self.encoding(dirs.float())))


def build_background(cfg) -> nn.Module | None:
    """The background module of a BackgroundConfig, or None for ``model = "none"`` (the run
    composites on the fixed data.train_background / data.eval_background colours)."""
    if cfg.model == "none":
        return None
    if cfg.model == "constant":
        return ConstantBackground()
    if cfg.model == "mlp":
        return DirectionalBackground(cfg.width, cfg.depth, cfg.dir_octaves)
    raise ValueError(f"background model must be one of {', '.join(MODELS)}, got {cfg.model!r}")
