"""Named background colours that rays are composited onto."""

from __future__ import annotations

import torch
from torch import Tensor

BACKGROUNDS = {"white": (1.0, 1.0, 1.0), "black": (0.0, 0.0, 0.0)}


def background_colour(name: str, device=None) -> Tensor:
    """(3,) colour of a named background (white | black)."""
    if name not in BACKGROUNDS:
        raise ValueError(f"background must be one of {', '.join(BACKGROUNDS)}, got {name!r}")
    return torch.tensor(BACKGROUNDS[name], device=device)


def eval_background(name: str, learned=None):
    """What evaluation composites onto: a run's learned background (a callable of ray
    directions) where it has one, else the named colour (3,)."""
    return learned if learned is not None else background_colour(name)
