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
