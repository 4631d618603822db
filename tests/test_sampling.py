import pytest
import torch

from nerfspec.config import SamplerConfig
from nerfspec.render.grid import OccupancyGrid, build_estimator
from nerfspec.render.sampling import (
    Samples,
    cell_index,
    front_to_back_densities,
    grid_coords,
    march_grid,
    march_in_passes,
    pass_bounds,
    prune_samples,
)

AABB = torch.tensor([-1.0, -1, -1, 1, 1, 1])


def test_grid_coords_and_cell_index_agree():
    r = 4
    coords = grid_coords(r)
    centres = -1 + (coords.float() + 0.5) / r * 2
    idx, inside = cell_index(centres, AABB, r)
    assert inside.all() and idx.tolist() == list(range(r ** 3))


def test_march_full_grid_covers_box_in_uniform_steps():
    occupied = torch.ones(8 ** 3, dtype=torch.bool)
    o = torch.tensor([[-3.0, 0.1, 0.2], [0.0, -3.0, 0.3], [0.0, 5.0, 0.0]])
    d = torch.tensor([[1.0, 0, 0], [0.0, 1.0, 0], [1.0, 0, 0]])
    s = march_grid(o, d, AABB, occupied, 0.1)
    assert set(s.ray_indices.tolist()) == {0, 1}  # ray 2 misses the box
    first = s.t_starts[s.ray_indices == 0]
    assert first[0].item() == pytest.approx(2.0) and len(first) == 20
    torch.testing.assert_close(s.t_ends - s.t_starts, torch.full_like(s.t_starts, 0.1))
    assert (s.ray_indices.diff() >= 0).all()


def test_march_skips_empty_cells():
    r = 8
    occupied = torch.zeros(r ** 3, dtype=torch.bool)
    occupied[cell_index(torch.tensor([[0.1, 0.1, 0.1]]), AABB, r)[0]] = True
    o = torch.tensor([[-3.0, 0.1, 0.1]])
    s = march_grid(o, torch.tensor([[1.0, 0, 0]]), AABB, occupied, 0.05)
    mids = (s.t_starts + s.t_ends) / 2 - 3.0
    assert len(s) == 5 and (mids > 0).all() and (mids < 0.25).all()


def test_prune_samples_early_stop_and_alpha():
    s = Samples(torch.zeros(4, dtype=torch.long), torch.arange(4.0), torch.arange(1.0, 5.0))
    kept = prune_samples(s, torch.tensor([0.0, 20.0, 1.0, 1.0]), 1, alpha_threshold=0.0, early_stop_eps=1e-4)
    assert kept.t_starts.tolist() == [0.0, 1.0]  # everything after the opaque sample goes
    kept = prune_samples(s, torch.tensor([0.0, 0.5, 0.5, 0.5]), 1, alpha_threshold=0.01, early_stop_eps=0.0)
    assert kept.t_starts.tolist() == [1.0, 2.0, 3.0]  # the empty sample goes


def test_front_to_back_stops_evaluating_behind_opaque_surfaces():
    n = 40
    s = Samples(torch.zeros(n, dtype=torch.long), torch.arange(float(n)), torch.arange(1.0, n + 1))
    points = torch.arange(float(n))[:, None].expand(n, 3)
    calls = []

    def density(x):
        calls.append(len(x))
        return torch.where(x[:, 0] >= 3, 20.0, 0.0)  # opaque from sample 3 on

    sigmas, evaluated = front_to_back_densities(s, points, density, 1, 1e-4, round_size=8)
    assert evaluated[:8].all() and not evaluated[8:].any() and calls == [8]
    kept = prune_samples(s.select(evaluated), sigmas[evaluated], 1, 0.0, 1e-4)
    assert kept.t_starts.tolist() == [0.0, 1.0, 2.0, 3.0]
    # without early stopping every sample is evaluated, in one call
    calls.clear()
    _, evaluated = front_to_back_densities(s, points, density, 1, 0.0, round_size=8)
    assert evaluated.all() and calls == [n]


def test_passes_stop_on_the_device_and_visit_each_rays_prefix():
    """Three passes (first 8, next 8, the rest): a ray opaque from its sample 3 costs one pass; a
    transparent one is visited whole; a ray with no samples never. Each pass is one call."""
    counts, opaque_from = [40, 30, 0, 5], [3, 100, 0, 100]
    ray_indices = torch.cat([torch.full((c,), r) for r, c in enumerate(counts)])
    position = torch.cat([torch.arange(c) for c in counts])
    s = Samples(ray_indices, position.float(), position.float() + 1)
    calls, seen = [], torch.zeros(len(s), dtype=torch.bool)

    def evaluate(sel):
        calls.append(len(sel))
        assert not seen[sel].any() and (sel.diff() > 0).all()  # each sample once, in order
        seen[sel] = True
        opaque = position[sel] >= torch.tensor(opaque_from)[ray_indices[sel]]
        return torch.where(opaque, 20.0, 0.0)

    assert pass_bounds(3, first=8, growth=2) == (8, 16) and pass_bounds(1) == () and pass_bounds(3) == (32, 128)
    visited = march_in_passes(s, 4, 1e-4, (8, 16), evaluate)
    assert calls == [8 + 8 + 5, 8, 14] and visited == sum(calls)
    expected = (ray_indices == 1) | (ray_indices == 3) | ((ray_indices == 0) & (position < 8))
    assert torch.equal(seen, expected)
    calls.clear()
    assert march_in_passes(s, 4, 0.0, (8, 16), lambda sel: calls.append(len(sel)) or sel.float()) == len(s)
    assert calls == [len(s)]  # without early stopping: one pass over everything


def test_grid_update_prunes_empty_space_around_a_sphere():
    cfg = SamplerConfig(grid_resolution=16, render_step_size=0.05, update_every=1, warmup_steps=10)
    grid = OccupancyGrid(AABB, cfg)

    def density(x):
        return torch.where(x.norm(dim=-1) < 0.5, 50.0, 0.0)

    for step in range(3):
        assert grid.update(step, density)
    coords = grid_coords(16).float()
    centres = -1 + (coords + 0.5) / 16 * 2
    inside, far = centres.norm(dim=-1) < 0.4, centres.norm(dim=-1) > 0.7
    assert grid.binary[inside].all() and not grid.binary[far].any()
    # with update_every = 4 only every fourth step refreshes, and the others leave the grid alone
    sparse = OccupancyGrid(AABB, SamplerConfig(grid_resolution=16, render_step_size=0.05, update_every=4,
                                               warmup_steps=10))
    assert sparse.update(0, density)
    occs = sparse.occs.clone()
    assert [sparse.update(s, lambda x: torch.full(x.shape[:-1], 1e3)) for s in (1, 2, 3, 5)] == [False] * 4
    assert torch.equal(sparse.occs, occs)
    assert sparse.update(4, density) and sparse.update(8, density)
    # sampling a ray through the centre now only lands near the sphere
    s = grid.sample(torch.tensor([[-3.0, 0.0, 0.0]]), torch.tensor([[1.0, 0, 0]]))
    mids = (s.t_starts + s.t_ends) / 2 - 3.0
    assert mids.abs().max() < 0.7


def test_build_estimator_on_cpu_uses_torch_kernels():
    est = build_estimator(AABB, SamplerConfig(), torch.device("cpu"))
    assert isinstance(est, OccupancyGrid) and est.backend == "torch"


def test_first_updates_sweep_unvisited_cells_which_stay_occupied():
    cfg = SamplerConfig(grid_resolution=8, update_every=1, update_cells=128, warmup_steps=0)
    grid = OccupancyGrid(AABB, cfg)
    seen = torch.zeros(512, dtype=torch.bool)
    for step in range(4):
        cells = grid.choose_cells(step, torch.Generator().manual_seed(step))
        assert len(cells) == 128 and len(cells.unique()) == 128
        assert not seen[cells].any()  # never a cell twice while some are unvisited
        seen[cells] = True
        grid.update(step, lambda x: torch.zeros(len(x)), torch.Generator().manual_seed(step))
        assert grid.binary[~seen].all() and not grid.binary[seen].any()
    assert seen.all()


def test_after_the_sweep_half_the_slice_is_occupied_cells_and_carved_cells_are_never_chosen():
    cfg = SamplerConfig(grid_resolution=8, update_every=1, update_cells=64, warmup_steps=0)
    grid = OccupancyGrid(AABB, cfg)
    carved = torch.zeros(512, dtype=torch.bool)
    carved[:100] = True
    grid.carve(carved)
    grid.occs.masked_fill_(~carved, 0.0)  # every other cell evaluated (and empty) ...
    occupied = torch.zeros(512, dtype=torch.bool)
    occupied[200:240] = True  # ... but 40 occupied ones
    grid.occs[occupied] = 1.0
    grid.refresh_binary()
    assert torch.equal(grid.binary, occupied)
    cells = grid.choose_cells(5, torch.Generator().manual_seed(0))
    assert len(cells) == 64 and len(cells.unique()) == 64
    assert not carved[cells].any()
    # the second half favours occupied cells: all 32 of it land there while 40 exist
    assert occupied[cells[32:]].all()


def test_update_threshold_uses_evaluated_cells_only():
    from nerfspec.render.grid import occupancy_threshold

    occs = torch.tensor([-1.0, -1.0, 0.002, 0.004])
    assert occupancy_threshold(occs, 0.01).item() == pytest.approx(0.003)
    assert occupancy_threshold(occs, 0.001).item() == pytest.approx(0.001)
    assert occupancy_threshold(torch.full((4,), -1.0), 0.01).item() == 0.0


def test_native_march_keeps_exactly_the_pytorch_samples():
    from nerfspec.render.sampling import native_march_available

    if not native_march_available():
        pytest.skip("the C++ marching op cannot be built here (no C++ compiler)")
    g = torch.Generator().manual_seed(0)
    r = 16
    # dense and sparse grids
    occupied = torch.rand(r ** 3, generator=g) < 0.3
    sparse = torch.rand(r ** 3, generator=g) < 0.02
    o = torch.nn.functional.normalize(torch.randn(500, 3, generator=g), dim=-1) * 3
    o[:50] = torch.rand(50, 3, generator=g) * 1.6 - 0.8  # some rays start inside the box
    d = torch.nn.functional.normalize(-o + 0.8 * torch.randn(500, 3, generator=g), dim=-1)
    d[:5] = torch.tensor([1.0, 0.0, 0.0])  # axis-aligned rays: divisions by ~0 in the slab test
    for grid, step in ((occupied, 0.013), (occupied, 0.05), (sparse, 0.013), (sparse, 0.003)):
        a = march_grid(o, d, AABB, grid, step, native=True)
        b = march_grid(o, d, AABB, grid, step, native=False)
        assert len(a) > 500
        assert torch.equal(a.ray_indices, b.ray_indices)
        assert torch.equal(a.t_starts, b.t_starts) and torch.equal(a.t_ends, b.t_ends)
    empty = march_grid(o[:0], d[:0], AABB, occupied, 0.05)
    assert len(empty) == 0


def test_native_march_skipping_empty_blocks_keeps_exactly_the_pytorch_samples():
    """A shell and a few specks in a 64^3 grid (large empty blocks, as trained grids have): the
    C++ op jumps over empty blocks and must still keep every sample the step-by-step march keeps."""
    from nerfspec.render.sampling import native_march_available

    if not native_march_available():
        pytest.skip("the C++ marching op cannot be built here (no C++ compiler)")
    g = torch.Generator().manual_seed(1)
    r = 64
    centres = (grid_coords(r).float() + 0.5) / r * 2.0 - 1.0  # AABB's cell centres
    radius = centres.norm(dim=-1)
    occupied = ((radius > 0.4) & (radius < 0.5)) | (torch.rand(r ** 3, generator=g) < 0.0005)
    o = torch.nn.functional.normalize(torch.randn(600, 3, generator=g), dim=-1) * 2.5
    d = torch.nn.functional.normalize(-o + 0.9 * torch.randn(600, 3, generator=g), dim=-1)
    d[:4] = torch.tensor([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.6, -0.8]])
    o[:4] = torch.tensor([[0.1, 0.2, 2.0], [0.3, -2.0, -0.1], [2.0, 0.0, 0.45], [0.0, -1.5, 1.5]])
    for step in (0.01, 0.02, 0.005):
        a = march_grid(o, d, AABB, occupied, step, native=True)
        b = march_grid(o, d, AABB, occupied, step, native=False)
        assert len(a) > 1000
        assert torch.equal(a.ray_indices, b.ray_indices)
        assert torch.equal(a.t_starts, b.t_starts)


def test_nerfacc_traversal_of_no_rays_returns_no_samples():
    from nerfspec.render.kernels import nerfacc_traverse

    idx, ts, te = nerfacc_traverse(torch.zeros(0, 3), torch.zeros(0, 3), torch.tensor([-1.0] * 3 + [1.0] * 3),
                                   torch.ones(8, dtype=torch.bool), 0.1)
    assert idx.shape == ts.shape == te.shape == (0,) and idx.dtype == torch.long


@pytest.mark.parametrize("extension,choice,expected", [
    (True, "auto", "nerfacc"), (True, "nerfacc", "nerfacc"), (True, "torch", "torch"),
    (False, "auto", "torch"), (False, "nerfacc", "torch")])
def test_kernel_backend_picks_nerfacc_on_cuda_only_where_its_extension_loads(monkeypatch, extension, choice,
                                                                            expected):
    from nerfspec.render import kernels

    monkeypatch.setattr(kernels, "nerfacc_cuda_available", lambda: extension)
    assert kernels.kernel_backend("cuda", choice) == expected
    assert kernels.kernel_backend("cpu", choice) == "torch"  # nerfacc's kernels need CUDA tensors
    with pytest.raises(ValueError, match="backend must be one of"):
        kernels.kernel_backend("cuda", "tcnn")
