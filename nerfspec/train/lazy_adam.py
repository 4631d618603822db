"""Adam that skips every entry whose gradient is exactly zero, for the hash tables.

Mueller et al. (2022, Sec. 4) skip the Adam step of hash-table entries without gradient: a
batch of ~10k samples touches a small share of 16 x 2^19 rows, and a dense Adam step reads and
writes four table-sized tensors. Entries with gradient 0 keep their value and both moments
(a dense Adam would keep moving them along their old momentum); the bias corrections use the
optimiser's step count, as in the paper. Where every entry has a gradient this is
``torch.optim.Adam``.

On float32 CPU tensors the step runs in the C++ op of ``hashgrid_cpu.cpp`` (one pass over the
gradient, touching only the updated entries); elsewhere in PyTorch (``lazy_adam_step``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from nerfspec.encodings.hashgrid_cpp import cpu_op_available


def lazy_adam_step(param: Tensor, grad: Tensor, exp_avg: Tensor, exp_avg_sq: Tensor, step: int,
                   lr: float, beta1: float, beta2: float, eps: float) -> None:
    """One Adam step, in place, on the entries with g != 0 (tensors of one shape):

    m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2,
    p = p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps);
    p, m and v stay as they are where g == 0. ``step`` is t >= 1.
    """
    touched = grad != 0
    m = torch.where(touched, exp_avg * beta1 + grad * (1 - beta1), exp_avg)
    v = torch.where(touched, exp_avg_sq * beta2 + grad * grad * (1 - beta2), exp_avg_sq)
    step_size = lr / (1 - beta1 ** step)
    update = step_size * m / (v.sqrt() / math.sqrt(1 - beta2 ** step) + eps)
    param.sub_(torch.where(touched, update, torch.zeros_like(update)))
    exp_avg.copy_(m)
    exp_avg_sq.copy_(v)


class LazyAdam(torch.optim.Optimizer):
    """Adam (no weight decay) that leaves entries with a zero gradient untouched.

    Defaults are the paper's: lr 1e-2, betas (0.9, 0.99), eps 1e-15.
    """

    def __init__(self, params, lr: float = 1e-2, betas: tuple[float, float] = (0.9, 0.99),
                 eps: float = 1e-15):
        if lr <= 0 or eps < 0 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"invalid LazyAdam settings lr={lr}, betas={betas}, eps={eps}")
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("LazyAdam takes dense gradients (entries without gradient are 0)")
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.contiguous_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.contiguous_format)
                state["step"] += 1
                args = (p, p.grad, state["exp_avg"], state["exp_avg_sq"], int(state["step"]),
                        float(group["lr"]), float(beta1), float(beta2), float(group["eps"]))
                if _runs_in_cpp(p):
                    torch.ops.nerfspec_hashgrid.sparse_adam_step(p, p.grad.contiguous(), *args[2:])
                else:
                    lazy_adam_step(*args)
        return loss


def _runs_in_cpp(p: Tensor) -> bool:
    return (p.device.type == "cpu" and p.dtype == torch.float32 and p.is_contiguous()
            and cpu_op_available())
