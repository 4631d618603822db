"""Built-in analytic scenes, rendered to the Blender synthetic NeRF format.

A scene description is a TOML file (``scenes/*.toml``)::

    name = "default"          # optional, default: the file's stem
    seed = 0                  # optional (0): seeds the camera positions
    size = 100                # image width = height, pixels (8 .. 4096)
    supersample = 2           # optional (2): s x s sub-pixel samples per pixel (1 .. 8)
    bound = 1.5               # optional (1.5): every object must fit in [-bound, bound]^3

    [views]                   # number of views per split, each >= 1
    train = 60
    val = 10
    test = 20

    [camera]                  # cameras on a sphere around the origin, looking at it
    radius = 4.0              # > 0 and outside every object's bounding sphere
    placement = "hemisphere"  # "sphere" (full sphere), "hemisphere" (z >= 0, z is up) or
                              # "walk" (a phone walk-around: a ring at 0.85..1.1 radius,
                              # 12..35 degrees up, looking near the origin)
    camera_angle_x = 0.6911   # horizontal field of view, radians, in (0, pi)

    [light]                   # shade = albedo * (ambient + intensity * max(0, n . l))
    ambient = 0.25            # >= 0
    direction = [0.3, 0.5, 1.0]  # towards the light (normalised), not all zero
    intensity = 0.8           # >= 0

    [[objects]]               # one table per primitive, at least one
    type = "sphere"           # sphere | box | cylinder | torus
    name = "ball"             # optional, default "<type><index>"
    center = [0.0, 0.0, 0.0]
    material = { texture = "solid", color = [0.8, 0.2, 0.2] }

Keys of each primitive besides ``type``, ``name``, ``center`` and ``material``:

* ``sphere``: ``radius`` (> 0)
* ``box``: ``half_size`` ([x, y, z], each > 0), ``rotation`` (optional, [rx, ry, rz] degrees
  about the fixed x, then y, then z axes; default [0, 0, 0])
* ``cylinder``: ``radius`` (> 0), ``half_height`` (> 0), ``axis`` (optional, default [0, 0, 1])
* ``torus``: ``major_radius`` (> 0), ``minor_radius`` (> 0, < major_radius), ``axis``
  (optional, the axis of symmetry, default [0, 0, 1])

Materials (colours are [r, g, b] in [0, 1]; all textures are evaluated in the primitive's local
frame q = R^T (p - center), in world units, so they move and turn with it):

* ``solid``: ``color``
* ``checker``: ``colors`` (two colours), ``cells_per_unit`` (> 0): colour index
  (floor(f q.x) + floor(f q.y) + floor(f q.z)) mod 2
* ``stripes``: ``colors``, ``cycles_per_unit`` (> 0), ``axis`` (optional, default [1, 0, 0]):
  one cycle is a stripe of each colour
* ``grating``: ``colors``, ``cycles_per_unit`` (> 0), ``axis`` (optional, default [1, 0, 0]),
  ``amplitude`` (optional, in [0, 1], default 1), ``band`` (optional band name): albedo
  (1 - w) colors[0] + w colors[1] with w = 0.5 + 0.5 amplitude sin(2 pi f q.axis)

Gratings that name a band are listed in the output's ``"bands"``, indexed in order of first
appearance; objects sharing a band name must share its frequency.

Output (``make_scene``): ``transforms_{train,val,test}.json`` (``camera_angle_x``, ``frames``
with ``file_path`` ``./<split>/r_<k>``, ``transform_matrix`` camera-to-world and ``band_path``,
and ``bands``), RGBA PNGs with straight colour and alpha = coverage, per-pixel band images
``<split>/r_<k>_band.png`` (band index + 1 at the pixel centre, 0 for none), ``mesh.ply``
(ground-truth surface) and ``scene.toml`` (the resolved description actually rendered); with
a ``generate.Photography`` also a capture (one nerfstudio ``transforms.json``) through a
distorting lens, without alpha, on an environment (see ``nerfspec.synth.generate``).
Every problem with a description is a ``SceneError`` with a one-line message naming the file.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nerfspec.errors import NerfspecError

SPLITS = ("train", "val", "test")
PRIMITIVES = ("sphere", "box", "cylinder", "torus")
TEXTURES = ("solid", "checker", "stripes", "grating")
PLACEMENTS = ("sphere", "hemisphere", "walk")

Vec3 = tuple[float, float, float]


class SceneError(NerfspecError):
    """A scene description that cannot be rendered (missing, unknown or invalid key)."""


# ----------------------------------------------------------------------------- description

@dataclass(frozen=True)
class Texture:
    kind: str  # solid | checker | stripes | grating
    colors: tuple[Vec3, ...]  # one colour (solid) or two
    frequency: float = 0.0  # cells_per_unit (checker) or cycles_per_unit (stripes, grating)
    axis: Vec3 = (1.0, 0.0, 0.0)  # unit vector (stripes, grating)
    amplitude: float = 1.0  # grating
    band: str | None = None  # grating

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"texture": self.kind}
        if self.kind == "solid":
            d["color"] = list(self.colors[0])
            return d
        d["colors"] = [list(c) for c in self.colors]
        if self.kind == "checker":
            d["cells_per_unit"] = self.frequency
            return d
        d["cycles_per_unit"] = self.frequency
        d["axis"] = list(self.axis)
        if self.kind == "grating":
            d["amplitude"] = self.amplitude
            if self.band is not None:
                d["band"] = self.band
        return d


@dataclass(frozen=True)
class Primitive:
    kind: str  # sphere | box | cylinder | torus
    name: str
    center: Vec3
    texture: Texture
    radius: float = 0.0  # sphere, cylinder
    half_size: Vec3 = (0.0, 0.0, 0.0)  # box
    rotation: Vec3 = (0.0, 0.0, 0.0)  # box, degrees
    half_height: float = 0.0  # cylinder
    axis: Vec3 = (0.0, 0.0, 1.0)  # cylinder, torus (unit)
    major_radius: float = 0.0  # torus
    minor_radius: float = 0.0  # torus

    def bounding_radius(self) -> float:
        """Radius of a sphere about ``center`` that contains the primitive."""
        if self.kind == "sphere":
            return self.radius
        if self.kind == "box":
            return math.sqrt(sum(h * h for h in self.half_size))
        if self.kind == "cylinder":
            return math.hypot(self.radius, self.half_height)
        return self.major_radius + self.minor_radius

    def half_extent(self) -> Vec3:
        """Half-size of the axis-aligned box about ``center`` that contains the primitive."""
        from nerfspec.synth.shapes import euler_xyz_deg, rotation_z_to

        if self.kind == "sphere":
            return (self.radius,) * 3
        if self.kind == "box":
            ext = np.abs(euler_xyz_deg(self.rotation)) @ np.asarray(self.half_size)
        elif self.kind == "cylinder":
            a = np.asarray(self.axis)
            ext = self.half_height * np.abs(a) + self.radius * np.sqrt(np.maximum(1 - a * a, 0))
        else:
            a = np.abs(rotation_z_to(self.axis)[:, 2])
            ext = self.minor_radius * a + (self.major_radius + self.minor_radius) * np.sqrt(
                np.maximum(1 - a * a, 0))
        return tuple(float(e) for e in ext)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": self.kind, "name": self.name, "center": list(self.center)}
        if self.kind == "sphere":
            d["radius"] = self.radius
        elif self.kind == "box":
            d["half_size"] = list(self.half_size)
            d["rotation"] = list(self.rotation)
        elif self.kind == "cylinder":
            d.update(radius=self.radius, half_height=self.half_height, axis=list(self.axis))
        else:
            d.update(major_radius=self.major_radius, minor_radius=self.minor_radius, axis=list(self.axis))
        d["material"] = self.texture.to_dict()
        return d


@dataclass(frozen=True)
class Views:
    train: int
    val: int
    test: int


@dataclass(frozen=True)
class Camera:
    radius: float
    placement: str
    camera_angle_x: float


@dataclass(frozen=True)
class Light:
    ambient: float
    direction: Vec3
    intensity: float


@dataclass(frozen=True)
class Band:
    index: int
    name: str
    cycles_per_unit: float


@dataclass(frozen=True)
class SceneDescription:
    path: Path
    name: str
    seed: int
    size: int
    supersample: int
    bound: float
    views: Views
    camera: Camera
    light: Light
    objects: tuple[Primitive, ...]

    @property
    def bands(self) -> list[Band]:
        bands: dict[str, Band] = {}
        for obj in self.objects:
            t = obj.texture
            if t.kind == "grating" and t.band is not None and t.band not in bands:
                bands[t.band] = Band(len(bands), t.band, t.frequency)
        return list(bands.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "seed": self.seed, "size": self.size, "supersample": self.supersample,
            "bound": self.bound,
            "views": {"train": self.views.train, "val": self.views.val, "test": self.views.test},
            "camera": {"radius": self.camera.radius, "placement": self.camera.placement,
                       "camera_angle_x": self.camera.camera_angle_x},
            "light": {"ambient": self.light.ambient, "direction": list(self.light.direction),
                      "intensity": self.light.intensity},
            "objects": [o.to_dict() for o in self.objects],
        }


# ----------------------------------------------------------------------------- TOML writing

def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def description_to_toml(desc: SceneDescription) -> str:
    """The description as TOML text that ``load_scene_description`` reads back unchanged."""
    d = desc.to_dict()
    lines = ["# Resolved scene description (written by nerfspec make-scene)"]
    for k in ("name", "seed", "size", "supersample", "bound"):
        lines.append(f"{k} = {_toml_value(d[k])}")
    for table in ("views", "camera", "light"):
        lines += ["", f"[{table}]"] + [f"{k} = {_toml_value(v)}" for k, v in d[table].items()]
    for obj in d["objects"]:
        lines += ["", "[[objects]]"] + [f"{k} = {_toml_value(v)}" for k, v in obj.items()]
    return "\n".join(lines) + "\n"
