"""The contract every radiance field keeps, so samplers, renderers and exporters stay generic."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nerfspec.contraction import contracted_unit
from nerfspec.encodings.coarse_to_fine import set_window
from nerfspec.fields.heads import DensityColourHeads, density_activation, normalise_to_box
from nerfspec.precision import network_autocast


class FieldBase(nn.Module):
    """A field over world points x (N, 3) in the box ``aabb``. Public verbs:

    - ``density(x) -> (N,)`` sigma >= 0, what the occupancy grid and mesh export need;
    - ``forward(x, dirs) -> (sigma (N,), rgb (N, 3))``, float32 whatever the precision;
    - ``geometry(x) -> (sigma (N,), h (N, F))`` and ``colour(h, dirs) -> rgb (N, 3)``: forward in
      two halves, so a renderer can decide which samples need a colour after seeing sigma;
    - ``set_progress(step, fraction)``: training progress, for coarse-to-fine schedules (here:
      ``c2f``, (start, end) or None, moves the window of ``maskable()``'s encoding);
    - ``scalars() -> dict``: extra numbers to log (mask values, attention per octave);
    - ``param_groups() -> list[dict]``: parameters by optimiser group ("encoding" for learned
      encodings, "network" for the rest), each ``{"name", "params"}``.

    Subclasses implement ``geometry`` and ``colour``; the rest follows from them here, and
    feed their encodings ``unit_coords(x)``: the box mapped to [0, 1]^3, or, for an unbounded
    scene (``unbounded`` True), all of space contracted into [0, 1]^3 (nerfspec.contraction).
    """

    unbounded = False  # set by build_field from data.scene
    c2f: tuple[float, float] | None = None  # coarse-to-fine schedule, set by build_field

    def unit_coords(self, x: Tensor) -> Tensor:
        """(N, 3) in [0, 1]^3 for world points x (N, 3): ``normalise_to_box`` over ``aabb``, or
        ``contracted_unit`` when the scene is unbounded."""
        return contracted_unit(x, self.aabb) if self.unbounded else normalise_to_box(x, self.aabb)

    def geometry(self, x: Tensor) -> tuple[Tensor, Tensor]:  # pragma: no cover - interface
        raise NotImplementedError

    def colour(self, h: Tensor, dirs: Tensor | None) -> Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def density(self, x: Tensor) -> Tensor:
        """(N,) sigma >= 0, float32."""
        return self.geometry(x)[0]

    def forward(self, x: Tensor, dirs: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """sigma (N,) and rgb (N, 3) in [0, 1], both float32."""
        sigma, h = self.geometry(x)
        return sigma, self.colour(h, dirs)

    def maskable(self):
        """The encoding whose bands the coarse-to-fine schedule opens (``bands``, ``first_open``,
        ``window``; nerfspec.encodings.coarse_to_fine), or None."""
        return None

    def set_progress(self, step: int, fraction: float) -> None:
        """Called by the trainer before each step; fraction in [0, 1] of the run's budget."""
        encoding = self.maskable()
        if encoding is not None:
            set_window(encoding, fraction, self.c2f)

    def scalars(self) -> dict[str, float]:
        """Extra numbers to log: the coarse-to-fine window where a schedule runs."""
        encoding = self.maskable()
        return {"c2f/window": float(encoding.window)} if encoding is not None and self.c2f else {}

    def param_groups(self) -> list[dict]:
        """Optimiser groups: the encoding's own parameters (if it has any) and the rest."""
        encoding = getattr(self, "encoding", None)
        own = {id(p) for p in encoding.parameters()} if isinstance(encoding, nn.Module) else set()
        groups = [{"name": "encoding", "params": [p for p in self.parameters() if id(p) in own]},
                  {"name": "network", "params": [p for p in self.parameters() if id(p) not in own]}]
        return [g for g in groups if g["params"]]


class RadianceField(FieldBase):
    """A field of an input mapping and the shared MLP heads.

    Subclasses implement ``features(v) -> (N, width)`` on box-normalised points v in [0, 1]^3;
    this class adds the shared heads.

    Precision (nerfspec/precision.py): ``features`` computes the encoding in float32 and runs
    its network under ``self.autocast``; the heads' products run there too, the direction
    encoding and the activations in float32.
    """

    def __init__(self, aabb: Tensor, width: int, view_dirs: bool, dir_octaves: int,
                 density_activation: str, density_bias: float, precision: str):
        super().__init__()
        self.register_buffer("aabb", aabb.detach().float().clone())
        self.heads = DensityColourHeads(width, view_dirs, dir_octaves)
        self.activation, self.density_bias, self.precision = density_activation, density_bias, precision

    def autocast(self, ref: Tensor):
        """The network autocast of this field's precision on ``ref``'s device."""
        return network_autocast(ref, self.precision)

    def features(self, v: Tensor) -> Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def _sigma(self, raw: Tensor) -> Tensor:
        return density_activation(raw.float() + self.density_bias, self.activation)

    def geometry(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """sigma (N,) and the features h (N, width) that colour is read from, at points (N, 3)."""
        v = self.unit_coords(x)
        h = self.features(v)
        with self.autocast(x):
            raw = self.heads.density_logit(h)
        return self._sigma(raw), h

    def colour(self, h: Tensor, dirs: Tensor | None) -> Tensor:
        """rgb (N, 3) in [0, 1], float32, from ``geometry``'s features and view directions."""
        dir_feats = self.heads.encode_dirs(dirs)
        with self.autocast(h):
            rgb = self.heads.colour_logits(h, dir_feats)
        return torch.sigmoid(rgb.float())
