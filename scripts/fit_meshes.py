"""Write watertight test meshes with fine surface detail for ``nerfspec fit shape``.

Each is the marching-cubes surface (``nerfspec.export.mesh.marching_cubes``) of an implicit
shape sampled on a RES^3 grid over [-0.5, 0.5]^3, so every mesh is closed:

- ``bumpy_sphere``: r(theta, phi) = 0.33 + 0.035 sin(12 theta) sin(12 phi)
- ``ridged_torus``: a torus (R 0.3, r 0.09) whose tube radius carries 24 ridges around the ring
  and 6 around the tube.

Usage: python scripts/fit_meshes.py OUT_DIR [--resolution 192]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch


def bumpy_sphere(p: np.ndarray) -> np.ndarray:
    """Signed distance-like value (< 0 inside) of the bumpy sphere at points (..., 3)."""
    r = np.linalg.norm(p, axis=-1)
    theta = np.arccos(np.clip(p[..., 2] / np.maximum(r, 1e-9), -1, 1))
    phi = np.arctan2(p[..., 1], p[..., 0])
    return r - (0.33 + 0.035 * np.sin(12 * theta) * np.sin(12 * phi))


def ridged_torus(p: np.ndarray) -> np.ndarray:
    """(< 0 inside) of the ridged torus at points (..., 3)."""
    ring = np.sqrt(p[..., 0] ** 2 + p[..., 1] ** 2)
    u = np.arctan2(p[..., 1], p[..., 0])
    v = np.arctan2(p[..., 2], ring - 0.3)
    tube = np.sqrt((ring - 0.3) ** 2 + p[..., 2] ** 2)
    return tube - (0.09 + 0.015 * np.cos(24 * u) + 0.01 * np.cos(6 * v))


SHAPES = {"bumpy_sphere": bumpy_sphere, "ridged_torus": ridged_torus}


def main(argv=None) -> int:
    from nerfspec.export.mesh import marching_cubes, write_mesh

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--resolution", type=int, default=192)
    args = ap.parse_args(argv)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    g = np.linspace(-0.5, 0.5, args.resolution)
    pts = np.stack(np.meshgrid(g, g, g, indexing="ij"), axis=-1)
    bbox = torch.tensor([-0.5, -0.5, -0.5, 0.5, 0.5, 0.5])
    for name, fn in SHAPES.items():
        inside = 1.0 / (1.0 + np.exp(fn(pts) / (g[1] - g[0])))  # 0.5 on the surface, 0 far outside
        mesh = marching_cubes(inside.astype(np.float32), bbox, 0.5)
        path = write_mesh(mesh, out / f"{name}.ply", "ply")
        print(f"{path}: {len(mesh.faces)} faces, watertight {mesh.is_watertight}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
