"""The contract every radiance field keeps, so samplers, renderers and exporters stay generic."""

from __future__ import annotations

from torch import Tensor, nn

from nerfspec.fields.heads import (
    DensityColourHeads,
    autocast_context,
    density_activation,
    normalise_to_box,
)


class RadianceField(nn.Module):
    """A field over world points x (N, 3) in the box ``aabb``.

    Subclasses implement ``features(v) -> (N, width)`` on box-normalised points v in [0, 1]^3;
    this class adds the shared heads. Public verbs:

    - ``density(x) -> (N,)`` sigma >= 0, what the occupancy grid and mesh export need;
    - ``forward(x, dirs) -> (sigma (N,), rgb (N, 3))``, float32 whatever the precision;
    - ``set_progress(step, fraction)``: training progress, for coarse-to-fine schedules;
    - ``scalars() -> dict``: extra numbers to log (mask values, attention per octave).
    """

    def __init__(self, aabb: Tensor, width: int, view_dirs: bool, dir_octaves: int,
                 density_activation: str, density_bias: float, precision: str):
        super().__init__()
        self.register_buffer("aabb", aabb.detach().float().clone())
        self.heads = DensityColourHeads(width, view_dirs, dir_octaves)
        self.activation, self.density_bias, self.precision = density_activation, density_bias, precision

    def autocast(self, ref: Tensor):
        return autocast_context(ref, self.precision)

    def features(self, v: Tensor) -> Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def _sigma(self, raw: Tensor) -> Tensor:
        return density_activation(raw.float() + self.density_bias, self.activation)

    def density(self, x: Tensor) -> Tensor:
        v = normalise_to_box(x, self.aabb)
        h = self.features(v)
        with self.autocast(x):
            raw = self.heads.density_logit(h)
        return self._sigma(raw)

    def forward(self, x: Tensor, dirs: Tensor | None = None) -> tuple[Tensor, Tensor]:
        v = normalise_to_box(x, self.aabb)
        h = self.features(v)
        with self.autocast(x):
            raw, rgb = self.heads(h, dirs)
        return self._sigma(raw), rgb

    def set_progress(self, step: int, fraction: float) -> None:
        """Called by the trainer before each step; fraction in [0, 1] of the run's budget."""

    def scalars(self) -> dict[str, float]:
        return {}
