"""nerfspec.render.cascades: the grid's cascades and cone-angle steps for unbounded scenes, PyTorch,
C++ and nerfacc's layout agreeing."""

from __future__ import annotations

import pytest
import torch

from nerfspec.config import SamplerConfig
from nerfspec.render.cascades import cascade_aabbs, cascade_cell_index, cascade_cell_points, march_cascades
from nerfspec.render.grid import OccupancyGrid, sampler_for_scene, state_from_nerfacc, state_to_nerfacc
from nerfspec.render.sampling import cell_index, march_grid
from tests.test_contraction import AABB, unit_dirs


def test_cascade_boxes_double_about_the_centre_and_level_zero_is_the_box():
    boxes = cascade_aabbs(AABB, 4)
    assert torch.equal(boxes[0], AABB)
    centre = 0.5 * (AABB[:3] + AABB[3:])
    for level in range(4):
        assert torch.allclose(0.5 * (boxes[level, :3] + boxes[level, 3:]), centre)
        assert torch.allclose(boxes[level, 3:] - boxes[level, :3], (AABB[3:] - AABB[:3]) * 2 ** level)


def test_cascade_boxes_are_nerfaccs_levels():
    nerfacc = pytest.importorskip("nerfacc")
    theirs = nerfacc.OccGridEstimator(roi_aabb=AABB.tolist(), resolution=8, levels=3)
    assert torch.allclose(theirs.aabbs, cascade_aabbs(AABB, 3))


def test_points_inside_the_box_get_the_single_grids_cells():
    r = 16
    g = torch.Generator().manual_seed(2)
    x = AABB[:3] + torch.rand(2000, 3, generator=g) * (AABB[3:] - AABB[:3])
    cells, inside = cascade_cell_index(x, cascade_aabbs(AABB, 3), r)
    single, single_inside = cell_index(x, AABB, r)
    assert inside.all() and torch.equal(single_inside, inside)
    assert torch.equal(cells, single)  # level 0, the same flat index
    own = torch.arange(3 * r ** 3)
    cells, inside = cascade_cell_index(cascade_cell_points(cascade_aabbs(AABB, 3), own, r),
                                       cascade_aabbs(AABB, 3), r)
    # every cell's centre lies in its own cell, unless a finer level covers it
    assert inside.all() and (cells // r ** 3 <= own // r ** 3).all()
    mine = cells // r ** 3 == own // r ** 3
    assert torch.equal(cells[mine], own[mine]) and (~mine).any() and mine[r ** 3:].any()


def random_occupancy(levels: int, r: int, seed: int) -> torch.Tensor:
    return torch.rand(levels * r ** 3, generator=torch.Generator().manual_seed(seed)) < 0.3


def rays(n: int, seed: int, spread: float) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, generator=g) * spread, unit_dirs(n, seed)


@pytest.mark.parametrize("cone", [0.0, 1 / 64])
def test_cascades_agree_with_the_single_grid_inside_the_box(cone):
    """Rays from inside the box: the cascades keep exactly the single grid's steps while in the
    box, whatever the outer levels hold."""
    r, levels, step = 16, 3, 0.02
    occ = random_occupancy(levels, r, 3)
    origins, dirs = rays(300, 4, 0.4)
    many = march_cascades(origins, dirs, cascade_aabbs(AABB, levels), occ, step, cone)
    one = march_cascades(origins, dirs, AABB[None], occ[: r ** 3], step, cone)
    mid = 0.5 * (many.t_starts + many.t_ends)[:, None]
    in_box = cell_index(origins[many.ray_indices] + mid * dirs[many.ray_indices], AABB, r)[1]
    assert in_box.any() and (~in_box).any()
    kept = many.select(in_box)
    assert torch.equal(kept.ray_indices, one.ray_indices)
    assert torch.equal(kept.t_starts, one.t_starts) and torch.equal(kept.t_ends, one.t_ends)
    if cone == 0:  # one level and uniform steps: march_grid's samples (t up to rounding)
        plain = march_grid(origins, dirs, AABB, occ[: r ** 3], step)
        assert torch.equal(plain.ray_indices, one.ray_indices)
        assert torch.allclose(plain.t_starts, one.t_starts, atol=1e-4)


def test_cone_angle_steps_grow_with_distance():
    occ = torch.ones(4 * 8 ** 3, dtype=torch.bool)
    origins, dirs = rays(50, 5, 0.2)
    step, cone = 0.01, 1 / 32
    s = march_cascades(origins, dirs, cascade_aabbs(AABB, 4), occ, step, cone)
    dt = s.t_ends - s.t_starts
    assert torch.allclose(dt, torch.clamp(s.t_starts * cone, min=step), rtol=1e-5, atol=1e-7)
    assert dt.max() > 5 * step  # far steps are long
    # consecutive steps of a ray touch: each starts where the last ended
    same = s.ray_indices[1:] == s.ray_indices[:-1]
    assert torch.equal(s.t_starts[1:][same], s.t_ends[:-1][same])


def test_cascade_march_cpp_and_pytorch_keep_the_same_samples():
    from nerfspec.render.cascades import native_cascades_available

    if not native_cascades_available():
        pytest.skip("the C++ op does not build here")
    occ = random_occupancy(3, 16, 6)
    origins, dirs = rays(400, 7, 3.0)
    aabbs = cascade_aabbs(AABB, 3)
    a = march_cascades(origins, dirs, aabbs, occ, 0.01, 1 / 128)
    b = march_cascades(origins, dirs, aabbs, occ, 0.01, 1 / 128, native=False)
    assert len(a) > 1000
    assert torch.equal(a.ray_indices, b.ray_indices)
    assert torch.equal(a.t_starts, b.t_starts) and torch.equal(a.t_ends, b.t_ends)


def sphere(x):
    return torch.where(x.norm(dim=-1) < 0.8, 30.0, 0.0) + torch.where(x[:, 0] > 4.0, 30.0, 0.0)  # + a far wall


def cascaded_grid() -> OccupancyGrid:
    cfg = sampler_for_scene(SamplerConfig(grid_resolution=16, update_every=1, update_cells=4096, carve=False), True)
    grid = OccupancyGrid(AABB, cfg)
    for step in range(8):
        grid.update(step, sphere, torch.Generator().manual_seed(step))
    return grid


def test_cascaded_grid_learns_the_far_wall_and_renders_it():
    grid = cascaded_grid()
    assert grid.levels == 4 and grid.cone_angle == pytest.approx(1 / 256)
    r3 = 16 ** 3
    assert grid.binary[:r3].any() and not grid.binary[:r3].all()
    wall = cascade_cell_points(grid.level_aabbs(), torch.arange(grid.binary.numel()), 16)[:, 0] > 4.5
    assert grid.binary[wall].float().mean() > 0.9  # the wall beyond the box is occupied
    far = (cascade_cell_points(grid.level_aabbs(), torch.arange(grid.binary.numel()), 16)[:, 0] < -4.5)
    assert grid.binary[far].float().mean() < 0.1
    origins = torch.zeros(20, 3) + torch.tensor([0.0, 0.5, 0.0])
    dirs = torch.tensor([[1.0, 0, 0]]).expand(20, 3)
    s = grid.traverse(origins, dirs)
    mid = 0.5 * (s.t_starts + s.t_ends)
    assert (mid > 4.0).any()  # samples reach the wall outside the box


def test_cascaded_grid_round_trips_through_nerfaccs_estimator():
    nerfacc = pytest.importorskip("nerfacc")
    grid = cascaded_grid()
    theirs = nerfacc.OccGridEstimator(roi_aabb=AABB.tolist(), resolution=16, levels=4)
    theirs.load_state_dict(state_to_nerfacc(grid.state_dict(), levels=4))
    back = OccupancyGrid(AABB, grid.cfg)
    back.load_state_dict(state_from_nerfacc(theirs.state_dict()))
    for key, value in grid.state_dict().items():
        assert torch.equal(value, back.state_dict()[key]), key
    assert torch.equal(theirs.binaries.reshape(-1), grid.binary)


def test_object_scenes_keep_one_level_and_uniform_steps():
    cfg = sampler_for_scene(SamplerConfig(), False)
    assert (cfg.cascades, cfg.cone_angle) == (1, 0.0)
    assert OccupancyGrid(AABB, SamplerConfig()).binary.numel() == 64 ** 3
    explicit = sampler_for_scene(SamplerConfig(cascades=2, cone_angle=0.0), True)
    assert (explicit.cascades, explicit.cone_angle) == (2, 0.0)
