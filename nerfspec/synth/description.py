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
distorting lens, without alpha, on an environment (see ``nerfspec.data.generate``).
Every problem with a description is a ``SceneError`` with a one-line message naming the file.
"""

from __future__ import annotations

import difflib
import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from nerfspec.cameras import look_at
from nerfspec.errors import NerfspecError

SPLITS = ("train", "val", "test")
PRIMITIVES = ("sphere", "box", "cylinder", "torus")
TEXTURES = ("solid", "checker", "stripes", "grating")
PLACEMENTS = ("sphere", "hemisphere", "walk")
SCENES_DIR = Path(__file__).resolve().parents[2] / "scenes"

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
        from nerfspec.data.raycast import euler_xyz_deg, rotation_z_to

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


# ----------------------------------------------------------------------------- validation

class _Reader:
    """Typed access to one TOML table; every error names the file and the dotted key."""

    def __init__(self, path: Path, table: Any, prefix: str):
        self.path, self.prefix = path, prefix
        if not isinstance(table, dict):
            self.fail(f"'{prefix.rstrip('.') or 'top level'}' must be a table, got {_kind(table)}")
        self.table = table

    def fail(self, message: str):
        raise SceneError(f"{self.path}: {message}")

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def check_keys(self, allowed: list[str]) -> None:
        for name in self.table:
            if name not in allowed:
                hint = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
                extra = f" (did you mean '{self.key(hint[0])}'?)" if hint else ""
                self.fail(f"unknown key '{self.key(name)}'{extra}; valid keys here: {', '.join(allowed)}")

    def raw(self, name: str, default: Any = ...) -> Any:
        if name not in self.table:
            if default is ...:
                self.fail(f"missing key '{self.key(name)}'")
            return default
        return self.table[name]

    def number(self, name: str, default: Any = ..., *, low: float | None = None, high: float | None = None,
               low_open: bool = False, high_open: bool = False) -> float:
        v = self.raw(name, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            self.fail(f"'{self.key(name)}' must be a finite number, got {v!r}")
        if low is not None and (v <= low if low_open else v < low):
            self.fail(f"'{self.key(name)}' must be {'>' if low_open else '>='} {low:g}, got {v!r}")
        if high is not None and (v >= high if high_open else v > high):
            self.fail(f"'{self.key(name)}' must be {'<' if high_open else '<='} {high:g}, got {v!r}")
        return float(v)

    def integer(self, name: str, default: Any = ..., *, low: int, high: int | None = None) -> int:
        v = self.raw(name, default)
        if isinstance(v, bool) or not isinstance(v, int):
            self.fail(f"'{self.key(name)}' must be an integer, got {v!r}")
        if v < low or (high is not None and v > high):
            bound = f"between {low} and {high}" if high is not None else f">= {low}"
            self.fail(f"'{self.key(name)}' must be {bound}, got {v!r}")
        return int(v)

    def string(self, name: str, default: Any = ..., choices: tuple[str, ...] | None = None) -> str:
        v = self.raw(name, default)
        if not isinstance(v, str) or not v:
            self.fail(f"'{self.key(name)}' must be a non-empty string, got {v!r}")
        if choices is not None and v not in choices:
            hint = difflib.get_close_matches(v, choices, n=1)
            extra = f" (did you mean '{hint[0]}'?)" if hint else ""
            self.fail(f"'{self.key(name)}' must be one of {', '.join(choices)}, got {v!r}{extra}")
        return v

    def vec3(self, name: str, default: Any = ..., *, positive: bool = False, unit: bool = False,
             color: bool = False, value: Any = ...) -> Vec3:
        v = self.raw(name, default) if value is ... else value
        ok = isinstance(v, (list, tuple)) and len(v) == 3 and all(
            not isinstance(x, bool) and isinstance(x, (int, float)) and math.isfinite(x) for x in v)
        if not ok:
            self.fail(f"'{self.key(name)}' must be a list of 3 numbers, got {v!r}")
        vec = tuple(float(x) for x in v)
        if positive and min(vec) <= 0:
            self.fail(f"'{self.key(name)}' must have all entries > 0, got {v!r}")
        if color and not all(0.0 <= x <= 1.0 for x in vec):
            self.fail(f"'{self.key(name)}' must have entries in [0, 1], got {v!r}")
        if unit:
            norm = math.sqrt(sum(x * x for x in vec))
            if norm < 1e-9:
                self.fail(f"'{self.key(name)}' must not be the zero vector")
            vec = tuple(x / norm for x in vec)
        return vec

    def sub(self, name: str) -> "_Reader":
        return _Reader(self.path, self.raw(name), self.key(name) + ".")


def _kind(v: Any) -> str:
    return {dict: "a table", list: "a list", str: "a string"}.get(type(v), type(v).__name__)


_OBJECT_KEYS = {
    "sphere": ["radius"],
    "box": ["half_size", "rotation"],
    "cylinder": ["radius", "half_height", "axis"],
    "torus": ["major_radius", "minor_radius", "axis"],
}
_TEXTURE_KEYS = {
    "solid": ["color"],
    "checker": ["colors", "cells_per_unit"],
    "stripes": ["colors", "cycles_per_unit", "axis"],
    "grating": ["colors", "cycles_per_unit", "axis", "amplitude", "band"],
}


def _texture(r: _Reader) -> Texture:
    kind = r.string("texture", choices=TEXTURES)
    r.check_keys(["texture"] + _TEXTURE_KEYS[kind])
    if kind == "solid":
        return Texture(kind, (r.vec3("color", color=True),))
    colors = r.raw("colors")
    if not isinstance(colors, list) or len(colors) != 2:
        r.fail(f"'{r.key('colors')}' must be a list of two [r, g, b] colours, got {colors!r}")
    cols = tuple(r.vec3(f"colors[{i}]", color=True, value=c) for i, c in enumerate(colors))
    if kind == "checker":
        return Texture(kind, cols, r.number("cells_per_unit", low=0, low_open=True))
    freq = r.number("cycles_per_unit", low=0, low_open=True)
    axis = r.vec3("axis", [1.0, 0.0, 0.0], unit=True)
    if kind == "stripes":
        return Texture(kind, cols, freq, axis)
    band = r.string("band") if "band" in r.table else None
    return Texture(kind, cols, freq, axis, r.number("amplitude", 1.0, low=0, high=1), band)


def _primitive(r: _Reader, index: int) -> Primitive:
    kind = r.string("type", choices=PRIMITIVES)
    r.check_keys(["type", "name", "center", "material"] + _OBJECT_KEYS[kind])
    name = r.string("name", f"{kind}{index}")
    center = r.vec3("center")
    texture = _texture(r.sub("material"))
    if kind == "sphere":
        return Primitive(kind, name, center, texture, radius=r.number("radius", low=0, low_open=True))
    if kind == "box":
        return Primitive(kind, name, center, texture, half_size=r.vec3("half_size", positive=True),
                         rotation=r.vec3("rotation", [0.0, 0.0, 0.0]))
    if kind == "cylinder":
        return Primitive(kind, name, center, texture, radius=r.number("radius", low=0, low_open=True),
                         half_height=r.number("half_height", low=0, low_open=True),
                         axis=r.vec3("axis", [0.0, 0.0, 1.0], unit=True))
    major = r.number("major_radius", low=0, low_open=True)
    minor = r.number("minor_radius", low=0, low_open=True)
    if minor >= major:
        r.fail(f"'{r.key('minor_radius')}' ({minor:g}) must be < '{r.key('major_radius')}' ({major:g})")
    return Primitive(kind, name, center, texture, major_radius=major, minor_radius=minor,
                     axis=r.vec3("axis", [0.0, 0.0, 1.0], unit=True))


def description_from_dict(values: Any, path: str | Path = "<scene>") -> SceneDescription:
    """Validate a parsed TOML document; raises ``SceneError`` naming ``path`` and the key."""
    path = Path(path)
    top = _Reader(path, values, "")
    top.check_keys(["name", "seed", "size", "supersample", "bound", "views", "camera", "light", "objects"])
    name = top.string("name", path.stem)
    seed = top.integer("seed", 0, low=0)
    size = top.integer("size", low=8, high=4096)
    supersample = top.integer("supersample", 2, low=1, high=8)
    bound = top.number("bound", 1.5, low=0, low_open=True)

    vr = top.sub("views")
    vr.check_keys(list(SPLITS))
    views = Views(*(vr.integer(s, low=1) for s in SPLITS))

    cr = top.sub("camera")
    cr.check_keys(["radius", "placement", "camera_angle_x"])
    camera = Camera(cr.number("radius", low=0, low_open=True), cr.string("placement", choices=PLACEMENTS),
                    cr.number("camera_angle_x", low=0, high=math.pi, low_open=True, high_open=True))

    lr = top.sub("light")
    lr.check_keys(["ambient", "direction", "intensity"])
    light = Light(lr.number("ambient", low=0), lr.vec3("direction", unit=True), lr.number("intensity", low=0))

    objs = top.raw("objects")
    if not isinstance(objs, list) or not objs:
        top.fail("'objects' must be a non-empty array of tables ([[objects]])")
    objects = tuple(_primitive(_Reader(path, o, f"objects[{i}]."), i) for i, o in enumerate(objs))

    names: set[str] = set()
    bands: dict[str, float] = {}
    for i, obj in enumerate(objects):
        if obj.name in names:
            top.fail(f"'objects[{i}].name' {obj.name!r} is used by an earlier object")
        names.add(obj.name)
        ext = obj.half_extent()
        if any(abs(c) + e > bound + 1e-9 for c, e in zip(obj.center, ext)):
            top.fail(f"objects[{i}] ({obj.name}) extends beyond the scene bounds [-{bound:g}, {bound:g}]^3")
        if camera.radius <= math.sqrt(sum(c * c for c in obj.center)) + obj.bounding_radius():
            top.fail(f"'camera.radius' ({camera.radius:g}) must put the cameras outside objects[{i}] ({obj.name})")
        t = obj.texture
        if t.band is not None:
            if t.band in bands and bands[t.band] != t.frequency:
                top.fail(f"'objects[{i}].material.band' {t.band!r} is used with two frequencies "
                         f"({bands[t.band]:g} and {t.frequency:g} cycles per unit)")
            bands[t.band] = t.frequency
    if len(bands) > 254:
        top.fail(f"at most 254 bands fit in an 8-bit band image, got {len(bands)}")
    return SceneDescription(path, name, seed, size, supersample, bound, views, camera, light, objects)


def load_scene_description(path: str | Path) -> SceneDescription:
    """Read and validate a scene TOML file (``SceneError`` with a one-line message if bad)."""
    path = Path(path)
    if not path.is_file():
        raise SceneError(f"{path}: scene file not found")
    try:
        values = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        reason = " ".join(str(exc).split())
        raise SceneError(f"{path}: not valid TOML ({reason})") from None
    return description_from_dict(values, path)


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


# ----------------------------------------------------------------------------- cameras

def camera_poses(n: int, camera: Camera, seed: int, split: str) -> np.ndarray:
    """(n, 4, 4) poses uniformly distributed on the sphere or upper hemisphere, or along a
    walk around the scene (seeded per split)."""
    rng = np.random.default_rng([seed, SPLITS.index(split)])
    if camera.placement == "walk":
        return _walk_poses(n, camera.radius, rng)
    z = rng.uniform(0.0 if camera.placement == "hemisphere" else -1.0, 1.0, n)
    phi = rng.uniform(0.0, 2.0 * math.pi, n)
    s = np.sqrt(np.maximum(1.0 - z * z, 0.0))
    eyes = camera.radius * np.stack([s * np.cos(phi), s * np.sin(phi), z], axis=1)
    return np.stack([look_at(torch.from_numpy(e)).numpy() for e in eyes]) if n else np.zeros((0, 4, 4))


def _walk_poses(n: int, radius: float, rng: np.random.Generator) -> np.ndarray:
    """A hand-held walk around the origin: azimuths evenly spread with jitter, distance
    radius * U(0.85, 1.1), elevation U(12, 35) degrees, each looking at a point within 0.15
    of the origin (the hand is not steady)."""
    phi = (np.arange(n) + rng.uniform(-0.4, 0.4, n)) * (2.0 * math.pi / max(n, 1))
    dist = radius * rng.uniform(0.85, 1.1, n)
    elev = np.radians(rng.uniform(12.0, 35.0, n))
    eyes = dist[:, None] * np.stack([np.cos(elev) * np.cos(phi), np.cos(elev) * np.sin(phi), np.sin(elev)], 1)
    targets = rng.uniform(-0.15, 0.15, (n, 3))
    if not n:
        return np.zeros((0, 4, 4))
    return np.stack([look_at(torch.from_numpy(e), torch.from_numpy(t)).numpy() for e, t in zip(eyes, targets)])


# ----------------------------------------------------------------------------- rendering

def ray_hit(description: SceneDescription, origins, dirs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Analytic first hits of world rays: distance t (N,) along the normalised direction (inf
    for a miss), hit mask (N,) and unit world normals (N, 3) (zero for a miss)."""
    from nerfspec.data import raycast

    d = np.asarray(dirs, dtype=np.float64).reshape(-1, 3)
    o = np.broadcast_to(np.asarray(origins, dtype=np.float64).reshape(-1, 3), d.shape)
    d = d / np.linalg.norm(d, axis=1, keepdims=True)
    shapes = raycast.build_shapes(description)
    _, t, ids, normals = raycast.shade(shapes, description.light, np.ascontiguousarray(o.T),
                                       np.ascontiguousarray(d.T))
    return t, ids >= 0, normals.T


def _split_counts(desc: SceneDescription, views: int | None) -> dict[str, int]:
    if views is None:
        return {"train": desc.views.train, "val": desc.views.val, "test": desc.views.test}
    scale = views / desc.views.train
    return {"train": views, "val": max(1, round(desc.views.val * scale)),
            "test": max(1, round(desc.views.test * scale))}


def make_scene(scene_path: str | Path, out_dir: str | Path, *, size: int | None = None,
               views: int | None = None, seed: int | None = None, progress: bool = True,
               photo=None) -> Path:
    """Render the scene to ``out_dir``; returns ``out_dir``.

    ``size`` overrides the image width = height, ``views`` the number of train views (val and
    test scale proportionally, at least 1 each), ``seed`` the file's seed. ``photo``
    (``generate.Photography``) picks the format, lens and background; the default is the
    Blender format with RGBA PNGs. The resolved description is written to ``out_dir/scene.toml``.
    """
    from nerfspec.data.generate import Photography, write_scene

    desc = load_scene_description(scene_path)
    path = desc.path
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or not 8 <= size <= 4096):
        raise SceneError(f"{path}: size override must be an integer between 8 and 4096, got {size!r}")
    if views is not None and (isinstance(views, bool) or not isinstance(views, int) or views < 1):
        raise SceneError(f"{path}: views override must be an integer >= 1, got {views!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise SceneError(f"{path}: seed override must be an integer >= 0, got {seed!r}")
    counts = _split_counts(desc, views)
    desc = replace(desc, size=size or desc.size, seed=desc.seed if seed is None else seed,
                   views=Views(counts["train"], counts["val"], counts["test"]))
    return write_scene(desc, Path(out_dir), photo or Photography(), counts, progress)


def make_tiny_scene(out_dir: str | Path, size: int = 32, views: int = 20, scene: str = "default") -> Path:
    """Render ``scenes/<scene>.toml`` small and fast (for tests), without a progress bar."""
    return make_scene(SCENES_DIR / f"{scene}.toml", out_dir, size=size, views=views, progress=False)
