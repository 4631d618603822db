"""nerfspec.contraction: mip-NeRF 360's contraction of unbounded space (box to itself, continuous,
bounded, monotone along rays) and the contracting field that sees it."""

from __future__ import annotations

import torch

from nerfspec.contraction import contract, contracted_unit, to_box_units

AABB = torch.tensor([-1.5, -1.0, -1.5, 1.5, 2.0, 1.5])  # not a cube, not centred: the general case


def unit_dirs(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(n, 3, generator=g), dim=-1)


def test_contraction_maps_the_box_to_itself():
    g = torch.Generator().manual_seed(0)
    u = torch.rand(1000, 3, generator=g) * 2 - 1
    u[:10] = torch.sign(u[:10])  # corners and faces
    assert torch.equal(contract(u), u)
    x = AABB[:3] + torch.rand(1000, 3, generator=g) * (AABB[3:] - AABB[:3])
    assert torch.allclose(contracted_unit(x, AABB), 0.25 + 0.5 * (x - AABB[:3]) / (AABB[3:] - AABB[:3]), atol=1e-6)


def test_contraction_is_continuous_across_the_box_and_bounded_beyond():
    d = unit_dirs(500)
    surface = d / d.abs().amax(dim=-1, keepdim=True)  # on the box's surface, ||.||_inf = 1
    for eps in (1e-3, 1e-5):
        inside, outside = contract(surface * (1 - eps)), contract(surface * (1 + eps))
        assert (outside - inside).abs().max() < 4 * eps
    far = contract(surface * 1e6)
    assert far.abs().amax(dim=-1).max() < 2.0
    assert torch.allclose(far, 2 * surface, atol=1e-5)  # infinity lands on the doubled box


def test_contraction_is_monotone_along_rays_from_the_centre():
    d = unit_dirs(200, seed=1)
    s = torch.logspace(-1, 4, 400)  # distances from the centre in box units, increasing
    u = s[None, :, None] * d[:, None, :]  # (rays, distances, 3)
    c = contract(u.reshape(-1, 3)).reshape(u.shape)
    radius = c.abs().amax(dim=-1)
    assert (radius[:, 1:] > radius[:, :-1]).all()  # strictly increasing with distance
    direction = torch.nn.functional.normalize(c, dim=-1)
    assert torch.allclose(direction, d[:, None, :].expand_as(direction), atol=1e-5)  # along the same ray


def test_box_units_centre_the_box():
    assert torch.allclose(to_box_units(AABB[:3][None], AABB), -torch.ones(1, 3))
    assert torch.allclose(to_box_units(AABB[3:][None], AABB), torch.ones(1, 3))


def test_unbounded_field_sees_contracted_positions():
    from nerfspec.config import FieldConfig
    from nerfspec.fields import build_field

    cfg = FieldConfig(encoding="pe")
    bounded = build_field(cfg, AABB, 0)
    unbounded = build_field(cfg, AABB, 0, unbounded=True)
    g = torch.Generator().manual_seed(8)
    x = AABB[:3] + torch.rand(64, 3, generator=g) * (AABB[3:] - AABB[:3])
    assert torch.allclose(unbounded.unit_coords(x), contracted_unit(x, AABB))
    assert torch.allclose(bounded.unit_coords(x), (x - AABB[:3]) / (AABB[3:] - AABB[:3]))
    far = torch.full((4, 3), 1e5)
    assert ((unbounded.unit_coords(far) > 0) & (unbounded.unit_coords(far) <= 1)).all()
