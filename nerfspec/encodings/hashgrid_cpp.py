"""The hash encoding's C++ CPU ops (``hashgrid_cpu.cpp``, shipped inside the package), built on
first use through ``nerfspec.native.load_op`` (per machine, cached; the pure-PyTorch path where
no compiler can build it).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from nerfspec.native import load_op

SOURCE = Path(__file__).with_name("hashgrid_cpu.cpp")


def cpu_op_available() -> bool:
    """Build (first call only) and load the ops; False, said once on stderr, where that fails."""
    return load_op("nerfspec_hashgrid", str(SOURCE), "hash-grid")


class HashGridCpuFunction(torch.autograd.Function):
    """features = op(v, table) with d/d table from the op's backward; v gets no gradient.

    Callers that need d features / d v use the PyTorch path (``hash_grid_torch``).
    """

    @staticmethod
    def forward(ctx, v: Tensor, table: Tensor, offsets: list[int], resolutions: list[int],
                dense: list[int]) -> Tensor:
        ctx.save_for_backward(v)
        ctx.levels = (offsets, resolutions, dense)
        ctx.table_shape = table.shape
        return torch.ops.nerfspec_hashgrid.forward(v, table, offsets, resolutions, dense)

    @staticmethod
    def backward(ctx, grad: Tensor):
        if ctx.needs_input_grad[0]:
            raise RuntimeError("the hash-grid C++ op has no gradient for the positions")
        (v,) = ctx.saved_tensors
        grad_table = None
        if ctx.needs_input_grad[1]:
            rows, features = ctx.table_shape
            grad_table = torch.ops.nerfspec_hashgrid.backward(
                grad.float().contiguous(), v, rows, features, *ctx.levels)
        return None, grad_table, None, None, None


def hash_grid_cpu(v: Tensor, table: Tensor, offsets: list[int], resolutions: list[int],
                  dense: list[int]) -> Tensor:
    """(N, 3) float32 points in [0, 1]^3 -> (N, L F) features through the C++ op."""
    return HashGridCpuFunction.apply(v.contiguous(), table, offsets, resolutions, dense)
