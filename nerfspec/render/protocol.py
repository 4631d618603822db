"""What the renderer needs from a field, and nothing more: the renderer never imports fields/."""

from __future__ import annotations

from typing import Protocol

from torch import Tensor


class Field(Protocol):
    """A radiance field over world points.

    ``density(x)`` maps points (N, 3) to sigma (N,) >= 0; calling the field with points (N, 3)
    and unit view directions (N, 3) gives (sigma (N,), rgb (N, 3)), both float32.
    ``geometry(x)`` gives sigma and features h (N, F) and ``colour(h, dirs)`` the rgb from
    them: the same call in two halves (field(x, d) == (s, colour(h, d)) for s, h = geometry(x)).
    """

    def density(self, x: Tensor) -> Tensor: ...

    def geometry(self, x: Tensor) -> tuple[Tensor, Tensor]: ...

    def colour(self, h: Tensor, dirs: Tensor) -> Tensor: ...

    def __call__(self, x: Tensor, dirs: Tensor) -> tuple[Tensor, Tensor]: ...
