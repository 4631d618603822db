"""Reading a scene description: ``scenes/*.toml`` -> a validated ``SceneDescription`` (the
format is described in nerfspec/synth/description.py); every error is one line naming the file
and the dotted key."""

from __future__ import annotations

import difflib
import math
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from nerfspec.synth.description import (
    PLACEMENTS,
    PRIMITIVES,
    SPLITS,
    TEXTURES,
    Camera,
    Light,
    Primitive,
    SceneDescription,
    SceneError,
    Texture,
    Vec3,
    Views,
)


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
