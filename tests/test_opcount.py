"""nerfspec.opcount: which ops it counts and which it calls host waits."""

import torch

from nerfspec.opcount import OpCounter


def counted(fn):
    with OpCounter() as c:
        fn()
    return c


def test_boolean_mask_and_scalar_reads_are_waits_index_gathers_are_not():
    x = torch.randn(100)
    mask, idx = x > 0, torch.arange(10)
    assert counted(lambda: x[mask]).waits == 1
    assert counted(lambda: x[idx]).waits == 0
    assert counted(lambda: float(x.sum())).waits == 1
    assert counted(lambda: x.nonzero()).waits == 1
    assert counted(lambda: torch.bincount(idx, minlength=20)).waits == 1
    assert counted(lambda: x.masked_fill(mask, 0.0)).waits == 0
    y = x.clone()
    assert counted(lambda: y.__setitem__(mask, 0.0)).waits == 1
    assert counted(lambda: y.index_fill_(0, idx, 0.0)).waits == 0


def test_repeat_interleave_waits_unless_told_its_size():
    r = torch.tensor([1, 2, 3])
    assert counted(lambda: torch.repeat_interleave(r)).waits == 1
    assert counted(lambda: torch.repeat_interleave(r, output_size=6)).waits == 0
    assert counted(lambda: torch.arange(3).repeat_interleave(2)).waits == 0


def test_views_are_not_counted_and_backward_is():
    x = torch.randn(4, 6, requires_grad=True)
    c = counted(lambda: x.view(6, 4).t()[1:].unsqueeze(0))
    assert c.ops == 0
    c = counted(lambda: (x * 2).sum().backward())
    assert c.ops >= 3 and c.by_op["aten::mul"] >= 2  # forward and backward's multiply
    assert c.waits == 0 and "ops" in c.summary()


def test_inference_mode_counts_composite_ops_and_their_waits():
    x = torch.randn(10)
    with torch.inference_mode():
        c = counted(lambda: x.sum().item())
    assert c.waits == 1 and c.ops == 2
