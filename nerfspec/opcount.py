"""Count the aten ops a piece of code issues and the ones that make a GPU's host wait.

On a GPU each non-view op is about one kernel launch, and an op whose result the host must read
(a value, or the size of a data-dependent output) stalls the launch queue until the device has
caught up, so CPU launch time and GPU time add up instead of overlapping. Both counts depend on
the code path, not on the device, so they can be taken on the CPU and held as test ceilings.

    with OpCounter() as counts:
        trainer.train_step()
    counts.ops, counts.waits, counts.wait_ops
"""

from __future__ import annotations

from collections import Counter

import torch
from torch.utils._python_dispatch import TorchDispatchMode

# ops whose output the host must read, or whose output size depends on the data
ALWAYS_WAIT = frozenset({
    "aten::_local_scalar_dense", "aten::item",  # .item(), int(t), bool(t), float(t)
    "aten::nonzero", "aten::argwhere", "aten::masked_select", "aten::bincount",
    "aten::_unique", "aten::_unique2", "aten::unique_dim", "aten::unique_consecutive",
    "aten::equal", "aten::is_nonzero",
    # the CPU's ray-marching op: its output size depends on the grid, as nerfacc's
    # traverse_grids, which reads its sample count back once (the one unavoidable wait)
    "nerfspec_march::march",
})
# ops without a kernel of their own: metadata and allocation only
NO_KERNEL = frozenset({
    "aten::_unsafe_view", "aten::lift_fresh", "aten::empty", "aten::empty_strided", "aten::new_empty",
    "aten::new_empty_strided", "aten::empty_like", "aten::set_", "aten::resize_", "aten::sym_size",
    "aten::sym_stride", "aten::sym_numel", "aten::sym_storage_offset",
})


def op_name(func) -> str:
    """``namespace::name`` of an op overload (``aten::index`` for ``aten.index.Tensor``)."""
    return func._schema.name


def _has_bool_index(indices) -> bool:
    return any(isinstance(i, torch.Tensor) and i.dtype in (torch.bool, torch.uint8) for i in indices or ())


def is_host_wait(func, args: tuple, kwargs: dict) -> bool:
    """Whether the op makes a GPU's host wait: it returns a value to the host, or its output's
    size depends on tensor values (boolean-mask indexing, ``repeat_interleave`` by a tensor
    without ``output_size``, ``nonzero``, ``bincount``, ``unique``, ...)."""
    name = op_name(func)
    if name in ALWAYS_WAIT:
        return True
    if name in ("aten::index", "aten::index_put", "aten::index_put_", "aten::_index_put_impl_"):
        return _has_bool_index(args[1] if len(args) > 1 else kwargs.get("indices"))
    if name == "aten::repeat_interleave" and func._overloadname != "self_int":
        return kwargs.get("output_size") is None  # repeats is a tensor: the host sums it
    return False


def is_counted(func) -> bool:
    """Whether the op launches work: not a view and not metadata or allocation only."""
    return not func.is_view and op_name(func) not in NO_KERNEL


class OpCounter(TorchDispatchMode):
    """Counts non-view ops (``ops``, per name in ``by_op``) and host waits (``waits``, per name in
    ``wait_ops``) of everything run inside it, backward passes on this thread included."""

    def __init__(self):
        super().__init__()
        self.ops = self.waits = 0
        self.by_op: Counter[str] = Counter()
        self.wait_ops: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if is_counted(func):
            self.ops += 1
            self.by_op[op_name(func)] += 1
            if is_host_wait(func, args, kwargs):
                self.waits += 1
                self.wait_ops[op_name(func)] += 1
        return func(*args, **kwargs)

    def summary(self, top: int = 8) -> str:
        """One line: the totals, the most frequent ops and every waiting op."""
        common = ", ".join(f"{n.split('::')[-1]} {c}" for n, c in self.by_op.most_common(top))
        waits = ", ".join(f"{n.split('::')[-1]} {c}" for n, c in self.wait_ops.most_common())
        return f"{self.ops} ops, {self.waits} host waits ({waits or 'none'}); most frequent: {common}"
