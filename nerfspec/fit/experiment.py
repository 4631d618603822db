"""``nerfspec fit``: each mapping's scale chosen by a sweep on validation targets, then every
test target fitted at the chosen scale; resumable (one JSON per finished run) and reported.

Targets are grouped into columns (images: ``natural``, ``text`` or a folder's name; shapes:
one column), and each column gets its own sweep, as Tancik et al. tune per task and dataset.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from nerfspec.config import RFFCAConfig
from nerfspec.cpu import cpu_has_bf16, cpu_name
from nerfspec.errors import ConfigError, NerfspecError
from nerfspec.fit.networks import MAPPINGS, SCALED
from nerfspec.sweep import split_sweep

TASKS = ("image", "shape")
METRIC = {"image": "test_psnr", "shape": "iou"}
# Tancik et al. 2020, Table 1.
PAPER = {
    "natural": {"none": 19.32, "basic": 21.71, "pe": 24.95, "gauss": 25.57},
    "text": {"none": 18.40, "basic": 20.48, "pe": 27.57, "gauss": 30.47},
    "shape": {"none": 0.864, "basic": 0.892, "pe": 0.960, "gauss": 0.973},
}


def default_sweeps(task: str, size: int) -> dict[str, list[float]]:
    """Scales tried per mapping (cycles per unit). Images: around Tancik et al.'s sigma = 10
    at 512 px, scaled by size / 512 (the training grid's Nyquist frequency is size / 4); pe's
    scale is its top frequency. Shapes: around their sigma = 12 for meshes in [0, 1]; hashgrid's
    scale is its finest resolution (3D only)."""
    if task == "image":
        k = size / 512.0
        return {"pe": [32 * k, 64 * k, 128 * k, 256 * k], "gauss": [5 * k, 10 * k, 20 * k, 40 * k],
                "rffca": [2 * k, 4 * k, 8 * k, 16 * k], "hashgrid": [size]}
    return {"pe": [16.0, 32.0, 64.0], "gauss": [6.0, 12.0, 24.0], "rffca": [2.0, 4.0, 8.0],
            "hashgrid": [128.0, 512.0, 2048.0]}


@dataclass
class FitSpec:
    task: str
    sources: list[str]
    out: str
    fields: list[str] = field(default_factory=lambda: [m for m in MAPPINGS if m != "hashgrid"])
    val_sources: list[str] = field(default_factory=list)
    steps: int = 2000
    sweep_steps: int = 0  # 0: as steps
    sweeps: dict[str, list[float]] = field(default_factory=dict)  # mapping -> scales
    size: int = 512
    text_count: int = 8
    lr: float = 0.0  # 0: the task's default
    lr_decay: float = 0.0  # final lr / lr (exponential decay); 0: the task's default
    batch: int = 8192
    pool: int = 1 << 19  # shapes: pre-labelled uniform training points
    test_points: int = 1 << 15  # shapes: near-surface (and uniform) test points
    depth: int = 0  # 0: the task's default (4 for images, 8 for shapes)
    width: int = 256
    features: int = 256
    precision: str = "auto"
    seed: int = 0
    curve_points: int = 10
    mesh_resolution: int = 128
    rffca: RFFCAConfig = field(default_factory=RFFCAConfig)
    force: bool = False
    quiet: bool = False

    def validate(self) -> "FitSpec":
        if self.task not in TASKS:
            raise ConfigError(f"task must be one of {', '.join(TASKS)}, got {self.task!r}")
        if not self.sources:
            raise ConfigError("give at least one target")
        bad = [f for f in self.fields if f not in MAPPINGS]
        if bad or not self.fields or len(set(self.fields)) != len(self.fields):
            raise ConfigError(f"--fields must be distinct names from {', '.join(MAPPINGS)}, got {','.join(self.fields)!r}")
        for name in ("steps", "width", "features", "curve_points", "batch", "pool", "test_points",
                     "mesh_resolution", "text_count"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be > 0, got {getattr(self, name)}")
        for name in ("sweep_steps", "depth", "lr", "lr_decay", "seed"):
            if getattr(self, name) < 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(self, name)}")
        if self.task == "image" and (self.size < 8 or self.size % 2):
            raise ConfigError(f"--size must be an even number >= 8, got {self.size}")
        if self.precision not in ("auto", "bf16", "fp32"):
            raise ConfigError(f"--precision must be auto, bf16 or fp32, got {self.precision!r}")
        for m, values in self.sweeps.items():
            if m not in SCALED:
                raise ConfigError(f"--sweep {m}: only {', '.join(SCALED)} have a scale")
            if not values or any(not v > 0 for v in values):
                raise ConfigError(f"--sweep {m}: scales must be > 0")
        self.rffca.validate()
        return self


def parse_sweep(text: str) -> tuple[str, list[float]]:
    """``"gauss=5,10,20"`` (the grammar of ``nerfspec.sweep``) -> ("gauss", [5.0, 10.0, 20.0]):
    scales, always floats (run names spell them so)."""
    name, values = split_sweep(text, "MAPPING=V1,V2,...")
    return name, [float(v) for v in values]


# -- targets ------------------------------------------------------------------------------------

def image_targets(spec: FitSpec, sources: list[str], split: str) -> list[dict]:
    from nerfspec.fit.images import BUILTIN_SETS, load_targets

    out = []
    for src in sources:
        # a user's validation images serve every column; a built-in val set only its own
        column = src if src in BUILTIN_SETS else (Path(src).name or "images") if split == "test" else None
        for name, img in load_targets([src], spec.size, split, spec.text_count):
            out.append({"name": name, "column": column, "data": img})
    return out


def shape_targets(sources: list[str]) -> list[dict]:
    from nerfspec.fit.shapes import load_mesh

    out = [{"name": t.name, "column": "shape", "data": t} for t in map(load_mesh, sources)]
    names = [t["name"] for t in out]
    if len(set(names)) != len(names):
        raise NerfspecError("two meshes share a name (a make-scene mesh.ply is named after its folder)")
    return out


# -- runs ---------------------------------------------------------------------------------------

def run_name(split: str, mapping: str, scale: float | None, target: str) -> str:
    s = "" if scale is None else f"_s{scale:g}"
    return f"{split}_{mapping}{s}_{target}"


def _write_json(path: Path, data: dict) -> None:
    from nerfspec.run import atomic_write_bytes

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, json.dumps(data, indent=1).encode())


class Runner:
    """Runs (or reuses) one fit and keeps the per-target caches of the shape task."""

    def __init__(self, spec: FitSpec):
        self.spec, self.out, self.cache = spec, Path(spec.out), {}

    def settings(self, steps: int):
        s = self.spec
        if s.task == "image":
            from nerfspec.fit.image_task import ImageSettings

            return ImageSettings(steps=steps, lr=s.lr or 1e-3, lr_final_factor=s.lr_decay or 1.0, depth=s.depth or 4, width=s.width,
                                 features=s.features, precision=s.precision, seed=s.seed,
                                 curve_points=s.curve_points, rffca=s.rffca, progress=not s.quiet)
        from nerfspec.fit.shape_task import ShapeSettings

        return ShapeSettings(steps=steps, lr=s.lr or 5e-4, lr_final_factor=s.lr_decay or 0.01, batch=s.batch, pool=s.pool, test_points=s.test_points,
                             depth=s.depth or 8, width=s.width,
                             features=s.features, precision=s.precision, seed=s.seed,
                             curve_points=s.curve_points, rffca=s.rffca, progress=not s.quiet)

    def run(self, split: str, target: dict, mapping: str, scale: float | None, steps: int) -> dict:
        name = run_name(split, mapping, scale, target["name"])
        path = self.out / "runs" / f"{name}.json"
        settings = self.settings(steps)
        signature = json.loads(json.dumps({k: v for k, v in asdict(settings).items() if k != "progress"}))
        if path.is_file() and not self.spec.force:
            row = json.loads(path.read_text())
            if row.get("settings") == signature:  # the same protocol: reuse the finished run
                return row
        row = {"run": name, "split": split, "target": target["name"], "column": target["column"],
               "mapping": mapping, "scale": scale, "settings": signature}
        if self.spec.task == "image":
            from nerfspec.fit.image_task import fit_image

            result, pred = fit_image(target["data"], mapping, scale or 1.0, settings)
            if split == "test":
                self._save_image(pred, self.out / "predictions" / f"{mapping}_{target['name']}.png")
        else:
            from nerfspec.fit.shape_task import export_mesh, fit_shape, shape_data

            if target["name"] not in self.cache:
                self.cache[target["name"]] = shape_data(target["data"], settings,
                                                        self.out / "cache" / f"{target['name']}.npz")
            result, model = fit_shape(target["data"], mapping, scale or 1.0, settings, self.cache[target["name"]])
            if split == "test":
                export_mesh(model, target["data"], self.out / "meshes" / f"{mapping}_{target['name']}.ply",
                            self.spec.mesh_resolution)
        row.update(result)
        _write_json(path, row)
        return row

    @staticmethod
    def _save_image(img: torch.Tensor, path: Path) -> None:
        import imageio.v3 as iio

        path.parent.mkdir(parents=True, exist_ok=True)
        iio.imwrite(path, (img.clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8))


def choose_scale(rows: list[dict], metric: str) -> tuple[float, list[dict]]:
    """The scale with the best mean validation metric, and the table behind the choice."""
    table = []
    for scale in sorted({r["scale"] for r in rows}):
        vals = [r[metric] for r in rows if r["scale"] == scale]
        table.append({"value": scale, "val": float(np.mean(vals)), "runs": len(vals)})
    best = max(table, key=lambda t: t["val"])
    return best["value"], table


def machine() -> dict:
    return {"cpu": cpu_name(), "bf16_units": cpu_has_bf16(), "threads": torch.get_num_threads(), "cores": os.cpu_count(),
            "torch": torch.__version__}


def run_experiment(spec: FitSpec, log=print) -> dict:
    """Sweep on validation targets, fit the test targets, write the report; returns results."""
    from nerfspec.fit.report import write_fit_report

    spec.validate()
    metric = METRIC[spec.task]
    sweeps = {**default_sweeps(spec.task, spec.size), **spec.sweeps}
    if spec.task == "image":
        tests = image_targets(spec, spec.sources, "test")
        from nerfspec.fit.images import BUILTIN_SETS

        val_sources = spec.val_sources or [s for s in spec.sources if s in BUILTIN_SETS]
        vals = image_targets(spec, val_sources, "val") if val_sources else []
    else:
        tests, vals = shape_targets(spec.sources), shape_targets(spec.val_sources)
    runner = Runner(spec)
    sweep_steps = spec.sweep_steps or spec.steps
    chosen, sweep_log, rows = {}, {}, []
    columns = list(dict.fromkeys(t["column"] for t in tests))
    for column in columns:
        col_vals = [v for v in vals if v["column"] in (column, None) or spec.task == "shape"]
        for mapping in spec.fields:
            if mapping not in SCALED:
                chosen[(column, mapping)] = None
                continue
            values = sweeps[mapping]
            if len(values) == 1 or not col_vals:
                if len(values) > 1:
                    log(f"warning: no validation targets for {column}; {mapping} uses scale {values[len(values) // 2]:g}")
                chosen[(column, mapping)] = values[len(values) // 2] if len(values) > 1 else values[0]
                continue
            val_rows = [runner.run("val", t, mapping, v, sweep_steps) for v in values for t in col_vals]
            rows += val_rows
            best, table = choose_scale(val_rows, metric)
            chosen[(column, mapping)] = best
            sweep_log.setdefault(column, {})[mapping] = {"values": values, "chosen": best, "table": table,
                                                          "steps": sweep_steps, "targets": [t["name"] for t in col_vals]}
            tried = ", ".join(f"{t['value']:g}: {t['val']:.3f}" for t in table)
            log(f"{column} {mapping}: scale {best:g} chosen on validation ({tried})")
    for t in tests:
        for mapping in spec.fields:
            row = runner.run("test", t, mapping, chosen[(t["column"], mapping)], spec.steps)
            rows.append(row)
            log(f"  {t['column']}/{t['name']} {mapping}: {metric} {row[metric]:.4g}")
    setup = {k: v for k, v in asdict(spec).items() if k not in ("force", "quiet")}
    setup["sweeps_tried"] = sweeps
    results = {"task": spec.task, "metric": metric, "setup": setup, "machine": machine(),
               "paper": {c: PAPER.get(c if spec.task == "image" else "shape") for c in columns},
               "sweeps": sweep_log, "runs": rows}
    truths = {t["name"]: (t["data"].numpy() * 255 + 0.5).astype(np.uint8) for t in tests} if spec.task == "image" else None
    write_fit_report(results, Path(spec.out), truths)
    return results
