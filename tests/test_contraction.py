import math

import pytest
import torch

from nerfspec.contraction import (
    contract,
    from_box_units,
    march_distances,
    samples_to_reach,
    step_size,
    to_box_units,
    uncontract,
)


@pytest.mark.parametrize("norm", ["inf", "l2"])
def test_contract_is_bounded_continuous_and_inverted(norm):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(4000, 3, generator=gen, dtype=torch.float64) * torch.logspace(-1, 3, 4000, dtype=torch.float64)[:, None]
    y = contract(x, norm)
    n = y.abs().amax(-1) if norm == "inf" else y.norm(dim=-1)
    assert (n < 2).all()
    inside = (x.abs().amax(-1) if norm == "inf" else x.norm(dim=-1)) <= 1
    assert torch.equal(y[inside], x[inside]) and inside.any() and (~inside).any()
    torch.testing.assert_close(uncontract(y, norm), x, rtol=1e-9, atol=1e-9)
    # along a ray leaving the box: continuous at the boundary and monotone outwards
    d = torch.tensor([[0.6, 0.3, -0.2]], dtype=torch.float64)
    t = torch.linspace(0, 50, 5001, dtype=torch.float64)[:, None]
    r = contract(t * d, norm)
    rn = r.abs().amax(-1) if norm == "inf" else r.norm(dim=-1)
    assert (rn.diff() > 0).all() and (r.diff(dim=0).norm(dim=-1) < 0.02).all()


def test_contract_closed_form():
    # on the x axis, ||x|| = 4 -> (2 - 1/4) = 1.75; a point at (3, 1, 0) (max norm 3) -> (5/3) (1, 1/3, 0)
    y = contract(torch.tensor([[4.0, 0.0, 0.0], [3.0, 1.0, 0.0], [0.5, -0.5, 0.2]]))
    torch.testing.assert_close(y, torch.tensor([[1.75, 0.0, 0.0], [5 / 3, 5 / 9, 0.0], [0.5, -0.5, 0.2]]))
    aabb = torch.tensor([-1.0, 0.0, 2.0, 3.0, 2.0, 4.0])
    p = torch.tensor([[1.0, 1.0, 3.0], [3.0, 2.0, 4.0]])
    torch.testing.assert_close(to_box_units(p, aabb), torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]))
    torch.testing.assert_close(from_box_units(to_box_units(p, aabb), aabb), p)


def test_cone_marching_steps_grow_geometrically():
    step_min, cone = 0.01, 0.004  # t* = 2.5
    assert step_size(torch.tensor([1.0, 10.0]), step_min, cone).tolist() == pytest.approx([0.01, 0.04])
    assert step_size(torch.tensor([1e4]), step_min, cone, 5.0).item() == 5.0
    ts = march_distances(0.5, 1000.0, step_min, cone)
    assert ts[0] == 0.5 and ts[-1] == 1000.0 and (ts.diff() > 0).all()
    near = ts[ts <= 2.5]
    torch.testing.assert_close(near.diff(), torch.full_like(near.diff(), 0.01))  # fixed steps before t*
    far = ts[(ts > 2.5) & (ts < 1000.0)]
    torch.testing.assert_close(far[1:] / far[:-1], torch.full_like(far[1:], 1 + cone), rtol=1e-6, atol=0)
    expected = 2.0 / 0.01 + samples_to_reach(1000.0, step_min, cone)  # 200 fixed + log(400) / log(1.004)
    assert len(ts) - 1 == pytest.approx(expected, abs=2)
    assert samples_to_reach(1000.0, step_min, cone) == pytest.approx(math.log(400) / math.log(1.004))
