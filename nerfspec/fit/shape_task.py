"""3D shape occupancy (Tancik et al. 2020): a classifier of inside / outside from coordinates.

The network maps v (the normalised mesh's box, [0, 1]-units) to one logit; the loss is binary
cross-entropy on points uniform in the box; the score is the IoU of {logit > 0} with the true
occupancy on near-surface test points (``shapes.test_points``), and also on uniform points.
Training points come from a pre-labelled pool of uniform points (labelling a batch costs more
than a training step on a CPU, so the pool, 2^19 points by default, is labelled once per mesh;
batches are drawn from it with replacement).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nerfspec.fit.networks import build_network, parameter_count
from nerfspec.fit.optimise import FitSettings, train_regression
from nerfspec.fit.shapes import ShapeTarget, inside_mesh, iou, test_points, uniform_points


@dataclass
class ShapeSettings(FitSettings):
    """The shape protocol's knobs: paper values for the network (8x256) and learning rate
    (5e-4, decayed; here 100x over the run by default); batch and steps reduced for a CPU."""

    lr: float = 5e-4
    depth: int = 8
    lr_final_factor: float = 0.01
    batch: int = 8192
    pool: int = 1 << 19
    test_points: int = 1 << 15


def labelled_points(target: ShapeTarget, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 3) float32 points uniform in the target's box and their (n,) float occupancy."""
    pts = uniform_points(target, n, np.random.default_rng(seed))
    occ = inside_mesh(pts, target.mesh.vertices, target.mesh.faces)
    return torch.from_numpy(pts).float(), torch.from_numpy(occ).float()


def predict_logits(model: nn.Module, points: torch.Tensor, chunk: int = 65536) -> torch.Tensor:
    return torch.cat([model(c).reshape(-1) for c in points.split(chunk)])


def shape_data(target: ShapeTarget, settings: ShapeSettings, cache_file: Path | None = None) -> dict:
    """The labelled training pool and the near-surface and uniform test points of a target,
    read from / written to ``cache_file`` (.npz) when given, since labelling is slow."""
    if cache_file is not None and cache_file.is_file():
        z = np.load(cache_file)
        if len(z["pool_x"]) == settings.pool and len(z["surf_x"]) == settings.test_points:
            return {"pool": (torch.from_numpy(z["pool_x"]), torch.from_numpy(z["pool_y"])),
                    "surface": (torch.from_numpy(z["surf_x"]), z["surf_y"]),
                    "uniform": (torch.from_numpy(z["uni_x"]), z["uni_y"])}
    pool = labelled_points(target, settings.pool, settings.seed + 1)
    pts, occ = test_points(target, settings.test_points, settings.seed + 2)
    upts, uocc = labelled_points(target, settings.test_points, settings.seed + 3)
    data = {"pool": pool, "surface": (torch.from_numpy(pts).float(), occ), "uniform": (upts, uocc.numpy() > 0.5)}
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_name(cache_file.stem + ".tmp.npz")
        np.savez(tmp, pool_x=pool[0].numpy(), pool_y=pool[1].numpy(), surf_x=data["surface"][0].numpy(),
                 surf_y=occ, uni_x=upts.numpy(), uni_y=data["uniform"][1])
        tmp.replace(cache_file)
    return data


def fit_shape(target: ShapeTarget, mapping: str, scale: float, settings: ShapeSettings,
              data: dict | None = None) -> tuple[dict, nn.Module]:
    """Train ``mapping`` at ``scale`` on one shape -> (row, model); ``data`` as ``shape_data``
    returns it (made here when None)."""
    data = data if data is not None else shape_data(target, settings)
    pool_x, pool_y = data["pool"]
    model = build_network(mapping, 3, 1, scale, depth=settings.depth, width=settings.width,
                          features=settings.features, rffca=settings.rffca,
                          precision=settings.precision, seed=settings.seed)
    gen = torch.Generator().manual_seed(settings.seed + 4)

    def batch(step):
        idx = torch.randint(len(pool_x), (settings.batch,), generator=gen)
        return pool_x[idx], pool_y[idx]

    def evaluate(m: nn.Module) -> dict:
        out = {}
        for key, (pts, occ) in (("iou", data["surface"]), ("iou_uniform", data["uniform"])):
            out[key] = iou(predict_logits(m, pts).numpy() > 0, occ)
        return out

    trace = train_regression(model, settings.steps, settings.lr, batch,
                             lambda logits, y: F.binary_cross_entropy_with_logits(logits.reshape(-1), y),
                             evaluate, settings.curve_points, settings.lr_final_factor,
                             progress=settings.progress, desc=f"{mapping} {scale:g}")
    last = trace.curve[-1]
    row = {"iou": last["iou"], "iou_uniform": last["iou_uniform"], "params": parameter_count(model),
           "train_s": trace.train_s, "steps": settings.steps, "curve": trace.curve}
    return row, model


@torch.no_grad()
def export_mesh(model: nn.Module, target: ShapeTarget, path: Path, resolution: int = 128) -> Path:
    """Marching cubes of {sigmoid(logit) = 0.5} on a resolution^3 grid over the target's box,
    in the mesh file's units, written like ``nerfspec mesh`` (PLY, OBJ or GLB by suffix)."""
    from nerfspec.export.mesh import density_grid, marching_cubes, write_mesh

    bbox = torch.tensor([*target.lo, *target.hi], dtype=torch.float32)
    axes = [torch.linspace(float(target.lo[a]), float(target.hi[a]), resolution) for a in range(3)]
    volume, _ = density_grid(lambda p: torch.sigmoid(model(p).reshape(-1)), axes)
    mesh = marching_cubes(volume, bbox, 0.5)
    mesh.vertices = target.to_original(mesh.vertices)
    return write_mesh(mesh, path, path.suffix.lstrip(".") or "ply")
