"""The multiresolution hash encoding: its pure maths, both implementations, and their agreement."""

import math

import numpy as np
import pytest
import torch

from nerfspec.encodings.hashgrid import GridLayout, HashGridEncoding, hash_grid_torch
from nerfspec.encodings.hashgrid_cpp import cpu_op_available, hash_grid_cpu
from nerfspec.encodings.hashgrid_math import (
    corner_offsets,
    dense_index,
    grid_cell,
    level_cells,
    level_indices,
    level_rows,
    level_weights_trilinear,
    level_is_dense,
    level_offsets,
    level_resolutions,
    level_table_sizes,
    spatial_hash,
    trilinear_weights,
)

needs_cpp = pytest.mark.skipif(not cpu_op_available(),
                               reason="the hash-grid C++ op did not build here (see the note on stderr)")
BACKENDS = ["torch", pytest.param("cpp", marks=needs_cpp)]
def small_layout() -> GridLayout:
    """4 levels, 4..32 cells, T = 2^10: levels 0-1 dense (125, 729 rows) and 2-3 hashed."""
    layout = GridLayout.build(4, 4, 32, 10)
    assert layout.resolutions == [4, 8, 16, 32] and layout.dense == [1, 1, 0, 0]
    return layout


def encode(backend: str, v, table, layout):
    if backend == "cpp":
        return hash_grid_cpu(v, table, layout.offsets, layout.resolutions, layout.dense)
    return hash_grid_torch(v, table, layout)



def clustered_points(n: int, generator: torch.Generator) -> torch.Tensor:
    """Points in [0, 1]^3 in short runs along random lines near a sphere, like NeRF samples."""
    rays = n // 16
    centre = torch.nn.functional.normalize(torch.randn(rays, 3, generator=generator), dim=-1) * 0.3 + 0.5
    direction = torch.nn.functional.normalize(torch.randn(rays, 3, generator=generator), dim=-1)
    t = (torch.arange(16) - 8.0) * 0.004
    return (centre[:, None] + t[None, :, None] * direction[:, None]).reshape(-1, 3).clamp(0, 1)


# -- the pure maths --------------------------------------------------------------------------

def test_level_resolutions_grow_geometrically_from_base_to_max():
    res = level_resolutions(16, 16, 2048)
    assert res[0] == 16 and res[-1] == 2048 and len(res) == 16
    growth = math.exp(math.log(2048 / 16) / 15)
    assert all(r == math.floor(16 * growth ** l + 1e-6) for l, r in enumerate(res))
    assert level_resolutions(1, 8, 64) == [8]
    assert level_resolutions(8, 2, 256) == [2, 4, 8, 16, 32, 64, 128, 256]


def test_table_sizes_and_offsets():
    sizes = level_table_sizes([4, 9, 100], 1000)
    assert sizes == [125, 1000, 1000]
    assert level_offsets(sizes) == [0, 125, 1125, 2125]
    assert level_is_dense(9, 1000) and not level_is_dense(10, 1000)


def test_hash_is_the_papers_and_stays_in_table():
    corners = torch.randint(0, 2 ** 16, (10000, 3), generator=torch.Generator().manual_seed(0))
    for log2 in (4, 14, 19, 24):
        rows = spatial_hash(corners, 2 ** log2)
        assert rows.min() >= 0 and rows.max() < 2 ** log2
        # the paper's uint32 arithmetic, written independently with numpy's wrapping uint32
        c = corners.numpy().astype(np.uint32)
        with np.errstate(over="ignore"):
            h = c[:, 0] ^ (c[:, 1] * np.uint32(2654435761)) ^ (c[:, 2] * np.uint32(805459861))
        np.testing.assert_array_equal(rows.numpy(), (h % np.uint32(2 ** log2)).astype(np.int64))
    with pytest.raises(ValueError, match="power of two"):
        spatial_hash(corners, 1000)


def test_grid_cell_and_weights():
    v = torch.tensor([[0.0, 0.5, 1.0], [0.26, 0.74, 0.99]])
    base, frac = grid_cell(v, 4)
    assert base.tolist() == [[0, 2, 3], [1, 2, 3]]
    torch.testing.assert_close(frac, torch.tensor([[0.0, 0.0, 1.0], [0.04, 0.96, 0.96]]))
    w = trilinear_weights(torch.rand(100, 3))
    assert (w >= 0).all()
    torch.testing.assert_close(w.sum(-1), torch.ones(100))
    # at a corner (frac = its bits) the weight is 1 there and 0 elsewhere
    torch.testing.assert_close(trilinear_weights(corner_offsets().float()), torch.eye(8))


# -- the encoding ----------------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_interpolation_is_exact_at_grid_vertices(backend):
    layout = small_layout()
    g = torch.Generator().manual_seed(1)
    table = torch.randn(layout.rows, 2, generator=g)
    for l, (res, dense) in enumerate(zip(layout.resolutions, layout.dense)):
        corners = torch.randint(0, res + 1, (64, 3), generator=g)
        out = encode(backend, corners.float() / res, table, layout)[:, 2 * l:2 * l + 2]
        rows = dense_index(corners, res) if dense else spatial_hash(corners, layout.table_size)
        torch.testing.assert_close(out, table[rows + layout.offsets[l]], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_interpolation_is_continuous_across_cells(backend):
    layout = small_layout()
    table = torch.randn(layout.rows, 2, generator=torch.Generator().manual_seed(2))
    t = torch.linspace(0, 1, 20001)[:, None]
    line = torch.tensor([[0.01, 0.3, 0.97]]) + t * torch.tensor([[0.97, 0.4, -0.95]])
    out = encode(backend, line.clamp(0, 1), table, layout)
    step = float((line[1] - line[0]).norm())
    # |d g_l / d v| <= 3 N_l max|theta| per feature, so neighbours on the line differ by at most that
    bound = torch.tensor(layout.resolutions).repeat_interleave(2) * 3 * table.abs().max() * step
    assert ((out[1:] - out[:-1]).abs() <= bound * 1.01).all()
    # and the two sides of a cell face meet: v just below and just above x = 1/4 at level 0
    side = torch.tensor([[0.25 - 1e-6, 0.4, 0.6], [0.25 + 1e-6, 0.4, 0.6]])
    feats = encode(backend, side, table, layout)
    torch.testing.assert_close(feats[0], feats[1], atol=1e-4, rtol=0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_dense_and_hashed_indexing_agree_where_both_apply(backend):
    res, log2 = 4, 12  # 125 vertices: dense fits, and the hash into 4096 rows is collision-free
    corners = torch.stack(torch.meshgrid(*[torch.arange(res + 1)] * 3, indexing="ij"), -1).reshape(-1, 3)
    hashed_rows = spatial_hash(corners, 2 ** log2)
    assert hashed_rows.unique().numel() == corners.shape[0]
    values = torch.randn(corners.shape[0], 2, generator=torch.Generator().manual_seed(3))
    dense_layout = GridLayout([res], [0, (res + 1) ** 3], [1], 2 ** log2)
    hashed_layout = GridLayout([res], [0, 2 ** log2], [0], 2 ** log2)
    dense_table = torch.zeros(dense_layout.rows, 2)
    dense_table[dense_index(corners, res)] = values
    hashed_table = torch.zeros(hashed_layout.rows, 2)
    hashed_table[hashed_rows] = values
    v = torch.rand(500, 3, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(encode(backend, v, dense_table, dense_layout),
                               encode(backend, v, hashed_table, hashed_layout))


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradient_reaches_only_the_8_corners_with_trilinear_weights(backend):
    layout = small_layout()
    table = torch.zeros(layout.rows, 2, requires_grad=True)
    v = torch.tensor([[0.3141, 0.5926, 0.5358]])
    upstream = torch.randn(1, 8, generator=torch.Generator().manual_seed(5))
    (encode(backend, v, table, layout) * upstream).sum().backward()
    expect = torch.zeros(layout.rows, 2)
    for l, (res, dense) in enumerate(zip(layout.resolutions, layout.dense)):
        base, frac = grid_cell(v, res)
        rows = level_indices(base, res, layout.table_size, bool(dense))[0] + layout.offsets[l]
        assert rows.unique().numel() == 8  # no collision, so every corner is its own row
        w = trilinear_weights(frac)[0]
        expect[rows] = w[:, None] * upstream[0, 2 * l:2 * l + 2]
    assert set(table.grad.abs().sum(1).nonzero().squeeze(1).tolist()) == set(
        expect.abs().sum(1).nonzero().squeeze(1).tolist())
    torch.testing.assert_close(table.grad, expect)


@needs_cpp
@pytest.mark.parametrize("log2", [12, 19])
def test_cpp_op_and_pytorch_agree_on_values_and_gradients(log2):
    g = torch.Generator().manual_seed(6)
    layout = GridLayout.build(16, 16, 2048, log2)
    table = torch.randn(layout.rows, 2, generator=g, requires_grad=True)
    v = torch.cat([clustered_points(4096, g), torch.rand(1024, 3, generator=g),
                   torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 0.5]])])
    upstream = torch.randn(v.shape[0], 32, generator=g)
    results = []
    for backend in ("torch", "cpp"):
        table.grad = None
        out = encode(backend, v, table, layout)
        (out * upstream).sum().backward()
        results.append((out.detach(), table.grad.clone()))
    torch.testing.assert_close(results[1][0], results[0][0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(results[1][1], results[0][1], atol=1e-4, rtol=1e-5)


@needs_cpp
def test_cpp_op_gradient_does_not_depend_on_threads():
    g = torch.Generator().manual_seed(7)
    layout = GridLayout.build(8, 4, 256, 14)
    table = torch.randn(layout.rows, 4, generator=g, requires_grad=True)
    v, upstream = torch.rand(3000, 3, generator=g), torch.randn(3000, 32, generator=g)
    grads, threads = [], torch.get_num_threads()
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            table.grad = None
            (encode("cpp", v, table, layout) * upstream).sum().backward()
            grads.append(table.grad.clone())
    finally:
        torch.set_num_threads(threads)
    torch.testing.assert_close(grads[0], grads[1], rtol=0, atol=0)


@needs_cpp
def test_cpp_op_survives_nan_and_out_of_range_points():
    layout = small_layout()
    table = torch.randn(layout.rows, 2)
    v = torch.tensor([[float("nan"), 0.5, 0.5], [5.0, -3.0, 0.5]])
    out = hash_grid_cpu(v, table, layout.offsets, layout.resolutions, layout.dense)
    assert torch.isnan(out[0]).all() and torch.isfinite(out[1]).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cpu_and_cuda_agree():
    enc = HashGridEncoding(levels=8, log2_table_size=14, base_resolution=4, max_resolution=256)
    v = torch.rand(2048, 3, generator=torch.Generator().manual_seed(8))
    upstream = torch.randn(2048, 16, generator=torch.Generator().manual_seed(9))
    torch.nn.init.normal_(enc.table)
    (enc(v) * upstream).sum().backward()
    out_cpu, grad_cpu = enc(v).detach(), enc.table.grad.clone()
    enc = enc.cuda()
    enc.table.grad = None
    out = enc(v.cuda())
    (out * upstream.cuda()).sum().backward()
    torch.testing.assert_close(out.cpu(), out_cpu, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(enc.table.grad.cpu(), grad_cpu, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_encoding_contract_init_and_state_dict(backend):
    enc = HashGridEncoding(levels=4, features_per_level=4, log2_table_size=10, base_resolution=4,
                           max_resolution=32, backend=backend)
    assert enc.in_dim == 3 and enc.out_dim == 16
    assert enc.table.shape == (125 + 729 + 1024 + 1024, 4)
    assert enc.table.abs().max() <= 1e-4 and enc.table.abs().max() > 5e-5
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = enc(torch.rand(9, 3))
    assert out.shape == (9, 16) and out.dtype == torch.float32
    assert "table" in enc.state_dict()
    empty = enc(torch.zeros(0, 3))
    empty.sum().backward()
    assert empty.shape == (0, 16) and enc.table.grad.abs().sum() == 0


@pytest.mark.parametrize("features", [1, 2, 4, 8])
@pytest.mark.parametrize("gradient", ["exact", "smooth"])
def test_cpu_op_differentiates_in_positions_like_the_torch_path(features, gradient):
    """Camera pose refinement needs d features / d positions: the C++ op's (from its
    forward_jacobian) equals the PyTorch path's autograd, and the table gradient is unchanged."""
    if not cpu_op_available():
        pytest.skip("the C++ op does not build here")
    grads = {}
    for backend in ("cpp", "torch"):
        enc = HashGridEncoding(levels=5, features_per_level=features, log2_table_size=10, base_resolution=4,
                               max_resolution=64, backend=backend, generator=torch.Generator().manual_seed(0),
                               position_gradient=gradient)
        torch.nn.init.normal_(enc.table, generator=torch.Generator().manual_seed(1))
        v = torch.rand(300, 3, generator=torch.Generator().manual_seed(2)).requires_grad_(True)
        assert enc.uses_cpu_op(v) == (backend == "cpp")
        w = torch.randn(300, enc.out_dim, generator=torch.Generator().manual_seed(3))
        (enc(v) * w).sum().backward()
        grads[backend] = (v.grad, enc.table.grad)
    torch.testing.assert_close(grads["cpp"][0], grads["torch"][0], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(grads["cpp"][1], grads["torch"][1], rtol=1e-5, atol=1e-6)
    assert grads["cpp"][0].abs().sum() > 0


def per_level_reference(v, table, layout):
    """The encoding level by level from the per-level maths (one index computation per level)."""
    feats = []
    for res, offset, dense in zip(layout.resolutions, layout.offsets, layout.dense):
        base, frac = grid_cell(v, res)
        rows = level_indices(base, res, layout.table_size, bool(dense)) + offset
        w = trilinear_weights(frac)
        feats.append((table[rows] * w[..., None]).sum(1))
    return torch.cat(feats, dim=1)


def test_all_levels_at_once_equal_the_level_by_level_maths():
    layout = GridLayout.build(6, 4, 96, 11)  # dense and hashed levels
    g = torch.Generator().manual_seed(7)
    table = torch.randn(layout.rows, 2, generator=g)
    v = torch.cat([torch.rand(3000, 3, generator=g), torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])])
    base, frac = grid_cell(v, 24)
    all_base, all_frac = level_cells(v, torch.tensor([24.0]))
    assert torch.equal(all_base[:, 0], base.long()) and torch.equal(all_frac[:, 0], frac)
    assert torch.equal(level_weights_trilinear(frac[:, None])[:, 0], trilinear_weights(frac))
    lv = layout.tensors()
    all_rows = level_rows(level_cells(v, lv.resolutions)[0], lv.multipliers, lv.masks, lv.offsets, lv.dense)
    for l, (r, off, d) in enumerate(zip(layout.resolutions, layout.offsets, layout.dense)):
        expect = level_indices(grid_cell(v, r)[0], r, layout.table_size, bool(d)) + off
        assert torch.equal(all_rows[:, l], expect), f"level {l}"
    torch.testing.assert_close(hash_grid_torch(v, table, layout), per_level_reference(v, table, layout),
                               atol=1e-6, rtol=1e-6)


def test_torch_path_op_count_does_not_grow_with_levels():
    from nerfspec.opcount import OpCounter

    counts = []
    for levels in (2, 16):
        v = torch.rand(100, 3, requires_grad=True)
        layout = GridLayout.build(levels, 4, 256, 12)
        table = torch.randn(layout.rows, 2, requires_grad=True)
        levels_t = layout.tensors()
        with OpCounter() as c:
            hash_grid_torch(v, table, layout, levels_t).sum().backward()
        counts.append(c.ops)
    assert counts[0] == counts[1] and counts[1] <= 60, counts


def test_smooth_position_gradient_keeps_the_features_and_vanishes_at_cell_faces():
    """The smoothstep gradient (straight through): the same features and table gradient as the
    exact one, a position gradient of 0 on a cell face, and the exact one's mean along a line
    across a cell (through the middle of the cell's other two axes, where s(1/2) = 1/2)."""
    enc = HashGridEncoding(levels=1, features_per_level=2, log2_table_size=10, base_resolution=4,
                           max_resolution=4, backend="torch", position_gradient="smooth")
    exact = HashGridEncoding(levels=1, features_per_level=2, log2_table_size=10, base_resolution=4,
                             max_resolution=4, backend="torch")
    torch.nn.init.normal_(enc.table, generator=torch.Generator().manual_seed(4))
    exact.table = enc.table
    v = torch.rand(50, 3, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(enc(v), exact(v), rtol=0, atol=1e-6)
    face = torch.tensor([[0.5, 0.3, 0.6]], requires_grad=True)  # x = 0.5: a face of the 4-cell grid
    enc(face)[:, 0].sum().backward()
    assert face.grad[0, 0].abs() < 1e-5 and face.grad[0, 1:].abs().sum() > 0
    xs = (torch.arange(400, dtype=torch.float32) + 0.5) / 400 * 0.25 + 0.25  # across one cell in x
    pts = torch.stack([xs, torch.full_like(xs, 0.375), torch.full_like(xs, 0.625)], -1)
    means = []
    for e in (enc, exact):
        p = pts.clone().requires_grad_(True)
        e(p)[:, 0].sum().backward()
        means.append(p.grad[:, 0].mean())
    torch.testing.assert_close(means[0], means[1], rtol=1e-3, atol=1e-4)
