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
    """features = op(v, table) with d/d table from the op's backward and, where v needs a
    gradient (camera pose refinement), d/d v from the derivatives the op's ``forward_jacobian``
    computes beside the features: dL/dv_n = sum_j dL/dfeat_nj d feat_nj / d v_n (with ``smooth``
    the derivatives of the smoothstep blend, see the op's source)."""

    @staticmethod
    def forward(ctx, v: Tensor, table: Tensor, offsets: list[int], resolutions: list[int],
                dense: list[int], smooth: bool = False) -> Tensor:
        ctx.levels = (offsets, resolutions, dense)
        ctx.table_shape = table.shape
        if ctx.needs_input_grad[0]:
            feats, jac = torch.ops.nerfspec_hashgrid.forward_jacobian(v, table, offsets, resolutions, dense, smooth)
            ctx.save_for_backward(v, jac)
            return feats
        ctx.save_for_backward(v)
        return torch.ops.nerfspec_hashgrid.forward(v, table, offsets, resolutions, dense)

    @staticmethod
    def backward(ctx, grad: Tensor):
        v = ctx.saved_tensors[0]
        grad = grad.float().contiguous()
        grad_v = grad_table = None
        if ctx.needs_input_grad[0]:
            grad_v = torch.bmm(grad[:, None, :], ctx.saved_tensors[1])[:, 0]
        if ctx.needs_input_grad[1]:
            rows, features = ctx.table_shape
            grad_table = torch.ops.nerfspec_hashgrid.backward(grad, v, rows, features, *ctx.levels)
        return grad_v, grad_table, None, None, None, None


def hash_grid_cpu(v: Tensor, table: Tensor, offsets: list[int], resolutions: list[int],
                  dense: list[int], smooth_gradient: bool = False) -> Tensor:
    """(N, 3) float32 points in [0, 1]^3 -> (N, L F) features through the C++ op (the gradient in
    v, where v needs one, of the smoothstep blend with ``smooth_gradient``)."""
    return HashGridCpuFunction.apply(v.contiguous(), table, offsets, resolutions, dense, smooth_gradient)
