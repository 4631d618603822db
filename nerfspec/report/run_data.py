"""One run's part of a report page, as JSON-ready data: facts, config, training curves, evaluated
views (ground truth | render | error heatmap with PSNR / SSIM), videos and meshes.

Everything is optional but the config: a run without TensorBoard logs, evaluation, video or mesh
gets a page that says what is missing and how to make it.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from tqdm import tqdm

from nerfspec.errors import NerfspecError
from nerfspec.report import images
from nerfspec.report.assets import AssetWriter, safe_name
from nerfspec.report.events import last_value, mean_value, read_scalars
from nerfspec.report.run_info import read_json, run_info
from nerfspec.run_layout import (
    config_path,
    eval_dir,
    eval_metrics_path,
    eval_view_name,
    evaluated_splits,
    mesh_dir,
    mesh_metrics_path,
    mesh_path,
    tensorboard_dir,
    video_dir,
)

SPLIT_ORDER = ("test", "val", "train")
MESH_LIMIT = 256 * 1024 * 1024  # bytes of PLY above which the viewer is left out


def eval_splits(run_dir: Path) -> list[str]:
    """Splits with RUN/eval_<split>/metrics.json: test, val, train, then any other, by name."""
    return sorted(evaluated_splits(run_dir), key=lambda s: (SPLIT_ORDER.index(s) if s in SPLIT_ORDER else len(SPLIT_ORDER), s))


def ply_header(data: bytes) -> dict:
    """Element counts and format of a PLY file's header: {"format", "vertex", "face",
    "colours": bool}; ValueError when ``data`` does not start with a PLY header."""
    end = data.find(b"end_header")
    if not data.startswith(b"ply") or end < 0:
        raise ValueError("not a PLY file (no 'ply' ... 'end_header' header)")
    header = data[:end].decode("ascii", errors="replace")
    counts = {m.group(1): int(m.group(2)) for m in re.finditer(r"^element (\w+) (\d+)", header, re.M)}
    fmt = re.search(r"^format (\S+)", header, re.M)
    return {"format": fmt.group(1) if fmt else None, "vertex": counts.get("vertex", 0),
            "face": counts.get("face", 0),
            "colours": bool(re.search(r"^property \w+ (red|r)$", header, re.M))}


def blob_key(prefix: str, path: Path) -> str:
    """A page-wide unique name for a file's data: prefix, folder name and a hash of its full path
    (two runs may share a folder name)."""
    digest = hashlib.sha1(str(Path(path).resolve()).encode()).hexdigest()[:8]
    return f"{prefix}_{safe_name(Path(path).parent.name)}_{digest}"


def mesh_entry(path: Path, label: str, key: str, assets: AssetWriter, metrics: dict | None,
               notes: list[str]) -> dict | None:
    """A mesh for the viewer (PLY wrapped in a script asset), or None with a note why not."""
    size = path.stat().st_size
    if size > MESH_LIMIT:
        notes.append(f"{path}: {size / 2**20:.0f} MiB is too large for the page's mesh viewer; "
                     "extract a coarser mesh (nerfspec mesh --resolution)")
        return None
    data = path.read_bytes()
    try:
        header = ply_header(data)
    except ValueError as exc:
        notes.append(f"{path}: {exc}")
        return None
    url = assets.add_blob_script(f"{key}.ply.js", key, data)
    return {"label": label, "key": key, "script": url, "file": str(path), "bytes": size,
            "vertices": header["vertex"], "faces": header["face"], "colours": header["colours"],
            "metrics": metrics}


def run_mesh_path(run_dir: Path, metrics: dict | None) -> Path | None:
    """RUN/mesh/mesh.ply, else the PLY that mesh/metrics.json names, else any RUN/mesh/*.ply."""
    candidates = [mesh_path(run_dir)]
    if metrics and isinstance(metrics.get("mesh"), str) and metrics["mesh"].endswith(".ply"):
        candidates.append(Path(metrics["mesh"]))
    candidates += sorted(mesh_dir(run_dir).glob("*.ply"))
    return next((p for p in candidates if p.is_file()), None)


class GroundTruth:
    """Dataset splits composited on a background, loaded once per (scene, split, data settings)."""

    def __init__(self):
        self.cache: dict[tuple, tuple[object, str | None]] = {}

    def split(self, data, split: str):
        """(the split of DataConfig ``data`` (a Blender scene or a capture) or None, note or None)."""
        key = (str(Path(data.root).resolve()), split, repr(data))
        if key not in self.cache:
            from nerfspec.data.dataset import load_split

            try:
                self.cache[key] = (load_split(data, split), None)
            except NerfspecError as exc:
                self.cache[key] = (None, f"ground truth of the {split} split unavailable ({exc}): "
                                         "the renders are shown without it")
        return self.cache[key]


def view_entries(run_name: str, split_name: str, metrics: dict, folder: Path, gt_split,
                 background: tuple[float, float, float], assets: AssetWriter, notes: list[str],
                 progress: bool) -> list[dict]:
    """Per evaluated view: {"view", "psnr", "ssim", "render", "gt", "error", "max_error"}; image
    entries are URLs (None when the file or the ground truth is missing)."""
    out = []
    listed = metrics.get("views")
    views = [v for v in listed if isinstance(v, dict) and isinstance(v.get("view"), int)] if isinstance(listed, list) else []
    for v in tqdm(views, desc=f"report {run_name} {split_name}", disable=not progress, dynamic_ncols=True,
                  leave=False):
        k = int(v["view"])
        entry = {"view": k, "psnr": v.get("psnr"), "ssim": v.get("ssim"), "render": None, "gt": None,
                 "error": None, "max_error": None}
        path = folder / eval_view_name(k)
        render = None
        if path.is_file():
            entry["render"] = assets.add_file(path, f"{run_name}_{split_name}_r_{k}.png", "image/png")
            render = images.read_png_rgb(path)
        if gt_split is not None and 0 <= k < len(gt_split):
            gt = images.composite_uint8(gt_split.image(k).numpy(), background)
            entry["gt"] = assets.add_bytes(f"{split_name}_gt_{k}.png", images.png_bytes(gt), "image/png")
            if render is not None:
                try:
                    err = images.error_map(render, gt)
                except ValueError as exc:
                    notes.append(f"{path}: {exc}; no error map")
                else:
                    entry["max_error"] = float(err.max())
                    entry["error"] = assets.add_bytes(f"{run_name}_{split_name}_err_{k}.png",
                                                      images.png_bytes(images.heatmap(err)), "image/png")
        out.append(entry)
    return out


def eval_section(run_dir: Path, cfg, split_name: str, gt: GroundTruth, assets: AssetWriter,
                 notes: list[str], progress: bool) -> dict:
    from nerfspec.render.background import BACKGROUNDS

    folder = eval_dir(run_dir, split_name)
    metrics = read_json(eval_metrics_path(run_dir, split_name)) or {}
    gt_split, note = gt.split(cfg.data, split_name)
    if note:
        notes.append(note)
    background = BACKGROUNDS.get(cfg.data.eval_background, (1.0, 1.0, 1.0))
    views = view_entries(run_dir.name, split_name, metrics, folder, gt_split, background, assets,
                         notes, progress)
    poses = metrics.get("poses") if isinstance(metrics.get("poses"), dict) else None
    plot = folder / "cameras.png"
    cameras = None if poses is None else {
        "plot": assets.add_file(plot, f"{run_dir.name}_{split_name}_cameras.png", "image/png") if plot.is_file() else None,
        "reference": poses.get("reference"), "errors": poses.get("errors"),
        "before_refinement": poses.get("before_refinement"),
        "psnr_before_pose_optimisation": metrics.get("psnr_before_pose_optimisation"),
        "pose_optimisation": metrics.get("pose_optimisation")}
    return {"split": split_name, "step": metrics.get("step"), "psnr": metrics.get("psnr"),
            "ssim": metrics.get("ssim"), "every": metrics.get("every"), "cameras": cameras,
            "seconds_per_view": metrics.get("seconds_per_view"), "bands": metrics.get("bands", []),
            "views": views, "has_gt": gt_split is not None,
            "size": [gt_split.width, gt_split.height] if gt_split is not None else None}


def training_summary(scalars: dict) -> dict:
    """Headline numbers from the logged scalars: the last train PSNR / loss / samples per ray,
    and the mean throughput over the last 10 logged points."""
    return {"train_psnr": last_value(scalars.get("train/psnr")),
            "train_loss": last_value(scalars.get("train/loss")),
            "samples_per_ray": last_value(scalars.get("train/samples_per_ray")),
            "samples_per_s": mean_value(scalars.get("train/samples_per_s"), last=10),
            "rays_per_s": mean_value(scalars.get("train/rays_per_s"), last=10),
            "val_psnr": last_value(scalars.get("val/psnr"))}


def media(run_dir: Path, cfg, assets: AssetWriter, notes: list[str]) -> dict:
    """Videos (RUN/video/*.mp4) and meshes (the run's, and the scene's ground truth) of a run."""
    videos = [{"name": p.name, "url": assets.add_file(p, f"{run_dir.name}_{p.name}", "video/mp4", inline=False),
               "bytes": p.stat().st_size} for p in sorted(video_dir(run_dir).glob("*.mp4"))]
    mesh_metrics = read_json(mesh_metrics_path(run_dir))
    path = run_mesh_path(run_dir, mesh_metrics)
    mesh = mesh_entry(path, run_dir.name, blob_key("mesh", path), assets, mesh_metrics, notes) if path else None
    gt_path = Path(cfg.data.root) / "mesh.ply"  # generated scenes only; shown beside the run's mesh
    gt_mesh = (mesh_entry(gt_path, "ground truth", blob_key("gt", gt_path), assets, None, notes)
               if mesh is not None and gt_path.is_file() else None)
    return {"videos": videos, "mesh": mesh, "gt_mesh": gt_mesh}


def run_data(run_dir: str | Path, assets: AssetWriter, gt: GroundTruth | None = None,
             progress: bool = False) -> dict:
    """Everything the page shows about one run (see the module docstring); NerfspecError when
    ``run_dir`` is not a run (no readable config.toml)."""
    from nerfspec.run import read_run_config

    run_dir = Path(run_dir)
    cfg = read_run_config(run_dir)
    gt = gt or GroundTruth()
    notes: list[str] = []
    scalars, tb_notes = read_scalars(tensorboard_dir(run_dir))
    notes += tb_notes
    if not scalars:
        notes.append(f"no training curves: {tensorboard_dir(run_dir)} holds no TensorBoard scalars")
    evals = [eval_section(run_dir, cfg, s, gt, assets, notes, progress) for s in eval_splits(run_dir)]
    if not evals:
        notes.append(f"not evaluated yet: nerfspec eval {run_dir}")
    size = next((tuple(e["size"]) for e in evals if e["size"]), None)
    data = {"name": run_dir.name, "dir": str(run_dir), "encoding": cfg.field.encoding,
            "info": run_info(run_dir, cfg, scalars, size), "config_toml": config_path(run_dir).read_text(),
            "scalars": {tag: {"step": s["step"], "value": s["value"]} for tag, s in scalars.items()},
            "summary": training_summary(scalars), "evals": evals, **media(run_dir, cfg, assets, notes)}
    if not data["videos"]:
        notes.append(f"no video: nerfspec render {run_dir}")
    if data["mesh"] is None and not any("mesh" in n for n in notes):
        notes.append(f"no mesh: nerfspec mesh {run_dir}")
    data["notes"] = list(dict.fromkeys(notes))
    return data
