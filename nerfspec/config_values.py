"""Config values from text: TOML files read and written, dotted ``KEY=VALUE`` overrides, typed
dataclasses built from nested dicts with every key and value checked, and the range checks the
dataclasses' ``validate()`` use (one-line ``ConfigError``s). ``nerfspec.config`` holds the
dataclasses themselves."""

from __future__ import annotations

import dataclasses
import difflib
import math
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
import types
import typing
from pathlib import Path
from typing import Any

from nerfspec.errors import ConfigError


def check_positive(key: str, value: float) -> None:
    """ConfigError naming ``key`` unless value > 0."""
    if not value > 0:
        raise ConfigError(f"{key} must be > 0, got {value!r}")


def check_non_negative(key: str, value: float) -> None:
    """ConfigError naming ``key`` unless value >= 0."""
    if not value >= 0:
        raise ConfigError(f"{key} must be >= 0, got {value!r}")


def check_similarity(key: str, values: list[float]) -> None:
    """Empty, or a row-major 4x4 s R | t with s > 0, R a rotation and last row 0 0 0 1."""
    if not values:
        return
    if len(values) != 16:
        raise ConfigError(f"{key} must be empty or 16 numbers (a row-major 4x4), got {len(values)}")
    m = [values[4 * r:4 * r + 4] for r in range(4)]
    a = [row[:3] for row in m[:3]]
    gram = [[sum(a[k][i] * a[k][j] for k in range(3)) for j in range(3)] for i in range(3)]
    s2 = gram[0][0]
    det = (a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0])
           + a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]))
    similar = s2 > 0 and det > 0 and all(abs(gram[i][j] - (s2 if i == j else 0.0)) <= 1e-4 * s2
                                         for i in range(3) for j in range(3))
    if not similar or m[3] != [0.0, 0.0, 0.0, 1.0]:
        raise ConfigError(f"{key} must be a scaled rotation plus translation (last row 0 0 0 1)")


def check_choice(key: str, value: str, allowed: tuple[str, ...]) -> None:
    """ConfigError naming ``key``, the allowed values and the closest one, unless ``value`` is allowed."""
    if value not in allowed:
        hint = difflib.get_close_matches(str(value), allowed, n=1)
        extra = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise ConfigError(f"{key} must be one of {', '.join(allowed)}, got {value!r}{extra}")


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _coerce(key: str, value: Any, annotation: Any) -> Any:
    """Check ``value`` against a dataclass field's annotation, converting int -> float."""
    origin = typing.get_origin(annotation)
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a table, got {type(value).__name__}")
        return build_dataclass(annotation, value, key + ".")
    if origin is list:
        (item,) = typing.get_args(annotation)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key} must be a list, got {type(value).__name__}")
        return [_coerce(f"{key}[{i}]", v, item) for i, v in enumerate(value)]
    if origin in (typing.Union, types.UnionType):
        raise ConfigError(f"{key}: unsupported union type")
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation is float and isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{key} must be a finite number, got {value!r}")
    if annotation in (int, float, str, bool) and not (
        isinstance(value, annotation) and not (annotation is int and isinstance(value, bool))
    ):
        raise ConfigError(f"{key} must be {annotation.__name__}, got {value!r}")
    return value


def build_dataclass(cls: type, values: dict[str, Any], prefix: str = "") -> Any:
    """``cls(**values)`` with every key checked against the dataclass's fields (an unknown one
    names the closest valid ``prefix.key``) and every value against its annotation (nested
    dataclasses from tables, lists item by item, int -> float, finite floats); ConfigError."""
    hints = _field_types(cls)
    kwargs = {}
    for key, value in values.items():
        if key not in hints:
            hint = difflib.get_close_matches(key, list(hints), n=1)
            extra = f" (did you mean '{prefix}{hint[0]}'?)" if hint else ""
            raise ConfigError(f"unknown config key '{prefix}{key}'{extra}")
        kwargs[key] = _coerce(prefix + key, value, hints[key])
    return cls(**kwargs)


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"field.gauss.sigma=8"`` -> (["field", "gauss", "sigma"], 8); the value is read as TOML."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()  # bare words are strings: --set field.encoding=pe
    return key.split("."), value


def apply_overrides(values: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Set dotted keys in a nested dict (the dict is modified and returned)."""
    for text in overrides:
        path, value = parse_override(text)
        node = values
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {text!r}: {part!r} is not a table")
        node[path[-1]] = value
    return values


def read_toml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None


def dump_toml(values: dict[str, Any]) -> str:
    """Write nested dicts of scalars and lists as TOML (enough for Config)."""
    lines: list[str] = []

    def scalar(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(scalar(x) for x in v) + "]"
        return repr(v)

    def table(prefix: str, node: dict[str, Any]) -> None:
        plain = {k: v for k, v in node.items() if not isinstance(v, dict)}
        if prefix:
            lines.append(f"\n[{prefix}]")
        lines.extend(f"{k} = {scalar(v)}" for k, v in plain.items())
        for k, v in node.items():
            if isinstance(v, dict):
                table(f"{prefix}.{k}" if prefix else k, v)

    table("", values)
    return "\n".join(lines).lstrip("\n") + "\n"
