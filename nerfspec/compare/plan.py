"""What ``nerfspec compare`` was asked for and the runs it plans: one per field x seed (x sweep
value for a swept field), each with its full config."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from nerfspec.config import (
    ENCODINGS,
    Config,
    ConfigError,
    FieldConfig,
    apply_overrides,
    config_from_dict,
    read_toml,
)
from nerfspec.errors import NerfspecError
from nerfspec.sweep import split_sweep

NO_STEP_LIMIT = 10 ** 9  # max_steps when only a time budget is given


@dataclass
class Sweep:
    """Values of one field parameter, e.g. ``gauss.sigma=1,2,4,8``; applies to that field only."""

    encoding: str  # gauss
    param: str  # sigma
    values: list[float | int]

    @property
    def key(self) -> str:
        return f"field.{self.encoding}.{self.param}"

    @property
    def label(self) -> str:
        return f"{self.encoding}.{self.param}"


def parse_sweep(text: str) -> Sweep:
    """``"gauss.sigma=1,2,4,8"`` (or ``field.gauss.sigma=...``; the grammar of
    ``nerfspec.sweep``) -> Sweep; checks the key exists and the values are distinct."""
    key, values = split_sweep(text, "gauss.sigma=1,2,4,8")
    parts = key.split(".")
    if parts and parts[0] == "field":
        parts = parts[1:]
    sections = [n for n in ("pe", "gauss", "rffca") if n in FieldConfig.__dataclass_fields__]
    if len(parts) != 2 or parts[0] not in sections:
        raise ConfigError(f"--sweep {text!r}: the key must be <encoding>.<parameter> with encoding "
                          f"one of {', '.join(sections)}, e.g. gauss.sigma")
    sub = getattr(FieldConfig(), parts[0])
    if parts[1] not in type(sub).__dataclass_fields__:
        raise ConfigError(f"--sweep {text!r}: field.{parts[0]} has no parameter {parts[1]!r} "
                          f"(it has {', '.join(type(sub).__dataclass_fields__)})")
    if not values or len(set(values)) != len(values):
        raise ConfigError(f"--sweep {text!r}: give distinct values, comma-separated")
    return Sweep(parts[0], parts[1], values)


def parse_seeds(text: str | int) -> list[int]:
    """``"3"`` -> [0, 1, 2]; ``"0,5,7"`` -> [0, 5, 7]."""
    try:
        if isinstance(text, int) or "," not in str(text):
            n = int(text)
            if n < 1:
                raise ValueError
            return list(range(n))
        seeds = [int(s) for s in str(text).split(",")]
    except ValueError:
        raise ConfigError(f"--seeds {text!r}: give a count (3) or a list (0,5,7) of seeds >= 0") from None
    if any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds {text!r}: seeds must be distinct and >= 0")
    return seeds


@dataclass
class CompareSpec:
    """Everything ``nerfspec compare`` was asked for."""

    scene: str
    fields: list[str]
    out: str = "outputs/compare"
    base_config: str | None = None
    overrides: list[str] = field(default_factory=list)
    steps: int | None = None
    minutes: float | None = None
    seeds: list[int] = field(default_factory=lambda: [0])
    sweeps: list[Sweep] = field(default_factory=list)
    curve_points: int = 8  # evenly spaced points of the budget where the test subset is scored
    curve_every: int = 0  # curve subset: test views 0, K, 2K, ... (0: about 4 views)
    eval_every: int | None = None  # final eval: every K-th view (None: the config's eval.every)
    max_bands: int = 6  # octave bands of the residual spectrum
    force: bool = False  # redo the planned runs from scratch
    quiet: bool = False

    def validate(self) -> "CompareSpec":
        if not self.fields:
            raise ConfigError("--fields: name at least one field")
        for f in self.fields:
            if f not in ENCODINGS:
                raise ConfigError(f"--fields: unknown field {f!r} (choose from {', '.join(ENCODINGS)})")
        if len(set(self.fields)) != len(self.fields):
            raise ConfigError("--fields: a field is named twice")
        if self.steps is not None and self.steps < 1:
            raise ConfigError(f"--steps must be >= 1, got {self.steps}")
        if self.minutes is not None and not self.minutes > 0:
            raise ConfigError(f"--budget-minutes must be > 0, got {self.minutes}")
        if self.curve_points < 1:
            raise ConfigError(f"--curve-points must be >= 1, got {self.curve_points}")
        if self.curve_every < 0 or (self.eval_every is not None and self.eval_every < 1):
            raise ConfigError("--curve-every must be >= 0 and --eval-every >= 1")
        if len({s.encoding for s in self.sweeps}) != len(self.sweeps):
            raise ConfigError("--sweep: one sweep per field")
        for s in self.sweeps:
            if s.encoding not in self.fields:
                raise ConfigError(f"--sweep {s.label}: field {s.encoding!r} is not in --fields")
        if not (Path(self.scene) / "transforms_train.json").is_file():
            raise NerfspecError(f"{self.scene}: not a scene folder (no transforms_train.json)")
        return self


@dataclass
class PlannedRun:
    name: str
    encoding: str
    seed: int
    sweep: Sweep | None
    value: float | int | None
    cfg: Config

    @property
    def run_dir(self) -> Path:
        return Path(self.cfg.output_dir) / self.cfg.name


def format_value(value: float | int) -> str:
    """Short, path-safe text of a sweep value: 2.0 -> '2', 0.5 -> '0.5'."""
    return f"{value:g}"


def run_name(encoding: str, seed: int, sweep: Sweep | None = None, value=None) -> str:
    """``gauss_sigma2_s0``, ``pe_s1``."""
    mid = f"_{sweep.param}{format_value(value)}" if sweep is not None else ""
    return f"{encoding}{mid}_s{seed}"


def plan_runs(spec: CompareSpec) -> list[PlannedRun]:
    """One run per field x seed (x sweep value for a swept field), each with a full config."""
    base = read_toml(spec.base_config) if spec.base_config else {}
    try:
        base = apply_overrides(base, list(spec.overrides))
    except ConfigError as exc:
        raise ConfigError(f"--set: {exc}") from None
    sweeps = {s.encoding: s for s in spec.sweeps}
    runs = []
    for enc in spec.fields:
        sweep = sweeps.get(enc)
        for value in (sweep.values if sweep else [None]):
            for seed in spec.seeds:
                name = run_name(enc, seed, sweep, value)
                values = json.loads(json.dumps(base))  # deep copy
                sets = [f"name={json.dumps(name)}",
                        f"output_dir={json.dumps(str(Path(spec.out) / 'runs'))}",
                        f"data.root={json.dumps(str(Path(spec.scene).resolve()))}",
                        f"field.encoding={json.dumps(enc)}", f"train.seed={seed}"]
                if spec.steps is not None:
                    sets.append(f"train.max_steps={spec.steps}")
                if spec.minutes is not None:
                    sets.append(f"train.max_minutes={spec.minutes}")
                    if spec.steps is None:
                        sets.append(f"train.max_steps={NO_STEP_LIMIT}")
                if sweep is not None:
                    sets.append(f"{sweep.key}={value}")
                try:
                    cfg = config_from_dict(apply_overrides(values, sets))
                except ConfigError as exc:
                    where = f"{spec.base_config}: " if spec.base_config else ""
                    raise ConfigError(f"{where}run {name}: {exc}") from None
                runs.append(PlannedRun(name, enc, seed, sweep, value, cfg))
    return runs


@dataclass
class Settings:
    """The per-run part of a CompareSpec (what a worker process needs besides the config)."""

    curve_points: int = 8
    curve_every: int = 0
    eval_every: int | None = None
    max_bands: int = 6
    quiet: bool = False


def settings_of(spec: CompareSpec) -> Settings:
    return Settings(spec.curve_points, spec.curve_every, spec.eval_every, spec.max_bands, spec.quiet)
