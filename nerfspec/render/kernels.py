"""The two places where nerfacc's CUDA kernels stand in for PyTorch code, and nothing else.

Sampling's state (the occupancy grid), its update rule, where samples go and which are pruned
are defined once in PyTorch (grid.py, sampling.py) and run the same on every device. On a CUDA
device with nerfacc's extension, two hot loops call its kernels over that same state:

- ``traverse``: samples [t_near + k dt, t_near + (k + 1) dt] (k = 0, 1, ...) whose midpoint lies
  in an occupied cell before the ray leaves the box, t_near the ray's box entry (clamped at 0).
  PyTorch: ``sampling.march_grid``. nerfacc: ``traverse_grids`` with near_planes = t_near,
  far_planes = t_far and cone_angle 0, which steps by dt from the near plane and keeps a step
  while its midpoint lies in an occupied cell before the far plane. Both produce the same
  samples up to float32 rounding of t (the kernel adds dt step by step). With cascades, the
  same kernel over all levels with the grid's cone angle (``cascades.march_cascades``).
- ``render_weights``: w_s = T_s alpha_s per packed sample. PyTorch: ``volume.render_weights``
  (per-ray prefix sums in float64); nerfacc: ``render_weight_from_density`` (its scan kernel).

``kernel_backend`` says which runs for a device and a ``sampler.backend`` choice; the choice
never changes what is saved, so a run moves between devices freely.
"""

from __future__ import annotations

import functools
import sys

import torch
from torch import Tensor

from nerfspec.cameras import ray_aabb_intersect
from nerfspec.render.volume import render_weights as torch_render_weights

BACKENDS = ("auto", "torch", "nerfacc")


@functools.lru_cache(maxsize=None)
def nerfacc_cuda_available() -> bool:
    """Whether nerfacc's CUDA extension builds and loads here (it JIT-compiles on first use;
    the answer is remembered for the process and a failure is said once)."""
    if not torch.cuda.is_available():
        return False
    from nerfspec.native import import_one_at_a_time

    try:
        # the import JIT-builds the extension; ranks starting together build one at a time
        return import_one_at_a_time("nerfacc.cuda._backend", "nerfacc_cuda_build")._C is not None
    except Exception as exc:  # the build can fail in many ways
        print(f"note: nerfacc CUDA extension unavailable ({exc}); sampling and compositing run "
              "in PyTorch on the GPU", file=sys.stderr)
        return False


def kernel_backend(device: torch.device | str, choice: str = "auto") -> str:
    """``"nerfacc"`` where its kernels run (a CUDA device, ``choice`` auto or nerfacc, the
    extension available), else ``"torch"``."""
    if choice not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {choice!r}")
    device = torch.device(device)
    if choice == "torch" or device.type != "cuda":
        return "torch"
    return "nerfacc" if nerfacc_cuda_available() else "torch"


def nerfacc_traverse(origins: Tensor, dirs: Tensor, aabbs: Tensor, binary: Tensor, step: float,
                     cone_angle: float = 0.0) -> tuple[Tensor, Tensor, Tensor]:
    """nerfacc's grid traversal over a flat (L R^3,) occupancy ``binary`` of the L levels
    ``aabbs`` (L, 6) (level-major, then x-major as ``grid.grid_coords``), from each ray's entry
    into the last (largest) box: ray_indices (S,) long, t_starts (S,), t_ends (S,) sorted by
    ray then t. CUDA tensors only."""
    if origins.shape[0] == 0:  # nerfacc's launch code divides by the ray count
        empty = torch.zeros(0, device=origins.device)
        return empty.long(), empty, empty
    from nerfacc.grid import traverse_grids

    aabbs = aabbs.reshape(-1, 6).float()
    levels = aabbs.shape[0]
    r = round((binary.numel() // levels) ** (1 / 3))
    t_near, t_far = ray_aabb_intersect(origins, dirs, aabbs[-1])
    t_far = torch.maximum(t_far, t_near)  # a miss: an empty interval
    intervals, samples, _ = traverse_grids(
        origins.contiguous(), dirs.contiguous(), binary.view(levels, r, r, r), aabbs.contiguous(),
        near_planes=t_near.contiguous(), far_planes=t_far.contiguous(), step_size=step, cone_angle=cone_angle)
    t_starts = intervals.vals[intervals.is_left]
    t_ends = intervals.vals[intervals.is_right]
    return samples.ray_indices.long(), t_starts, t_ends


def render_weights(t_starts: Tensor, t_ends: Tensor, sigmas: Tensor, ray_indices: Tensor,
                   n_rays: int, backend: str = "torch") -> Tensor:
    """Weights w (S,) of packed samples: nerfacc's scan kernel for ``backend`` "nerfacc",
    else ``volume.render_weights``."""
    if backend == "nerfacc":
        import nerfacc

        weights, _, _ = nerfacc.render_weight_from_density(
            t_starts, t_ends, sigmas, ray_indices=ray_indices, n_rays=n_rays)
        return weights
    weights, _, _ = torch_render_weights(t_starts, t_ends, sigmas, ray_indices, n_rays)
    return weights
