import pytest
import torch

from nerfspec.encodings.hashgrid_cpp import cpu_op_available
from nerfspec.train.lazy_adam import LazyAdam, lazy_adam_step

needs_cpp = pytest.mark.skipif(not cpu_op_available(),
                               reason="the hash-grid C++ op did not build here (see the note on stderr)")


def run(optimiser_cls, grads, **kw):
    p = torch.nn.Parameter(torch.linspace(-1, 1, 24).reshape(12, 2))
    opt = optimiser_cls([p], **kw)
    for g in grads:
        p.grad = g.clone()
        opt.step()
    return p.detach(), opt


def sparse_grads(steps: int, seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(steps):
        grad = torch.randn(12, 2, generator=g)
        grad[torch.rand(12, generator=g) < 0.6] = 0.0  # most rows untouched, as in a table
        out.append(grad)
    return out


@pytest.mark.parametrize("device_path", ["torch", pytest.param("cpp", marks=needs_cpp)])
def test_equals_adam_where_every_entry_has_a_gradient(device_path, monkeypatch):
    if device_path == "torch":
        monkeypatch.setattr("nerfspec.train.lazy_adam._runs_in_cpp", lambda p: False)
    g = torch.Generator().manual_seed(0)
    grads = [torch.randn(12, 2, generator=g) for _ in range(5)]
    lazy, _ = run(LazyAdam, grads, lr=1e-2, betas=(0.9, 0.99), eps=1e-15)
    dense, _ = run(torch.optim.Adam, grads, lr=1e-2, betas=(0.9, 0.99), eps=1e-15)
    torch.testing.assert_close(lazy, dense, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("device_path", ["torch", pytest.param("cpp", marks=needs_cpp)])
def test_entries_without_gradient_keep_value_and_moments(device_path, monkeypatch):
    if device_path == "torch":
        monkeypatch.setattr("nerfspec.train.lazy_adam._runs_in_cpp", lambda p: False)
    grads = sparse_grads(6, seed=1)
    before, opt = run(LazyAdam, grads[:5])
    before = before.clone()
    state = {k: v.clone() for k, v in opt.state[opt.param_groups[0]["params"][0]].items() if torch.is_tensor(v)}
    p = opt.param_groups[0]["params"][0]
    p.grad = grads[5].clone()
    opt.step()
    untouched = grads[5] == 0
    assert untouched.any() and (~untouched).any()
    assert (p.detach()[untouched] == before[untouched]).all()
    new_state = opt.state[p]
    for k in ("exp_avg", "exp_avg_sq"):
        assert (new_state[k][untouched] == state[k][untouched]).all()
        assert (new_state[k][~untouched] != state[k][~untouched]).all()
    assert (p.detach()[~untouched] != before[~untouched]).all()
    assert new_state["step"] == 6


@needs_cpp
def test_cpp_and_pytorch_steps_agree():
    grads = sparse_grads(8, seed=2)
    p_cpp, _ = run(LazyAdam, grads)
    p = torch.linspace(-1, 1, 24).reshape(12, 2)
    m, v = torch.zeros_like(p), torch.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        lazy_adam_step(p, g, m, v, t, 1e-2, 0.9, 0.99, 1e-15)
    torch.testing.assert_close(p_cpp, p, atol=1e-6, rtol=1e-5)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        LazyAdam([torch.nn.Parameter(torch.zeros(2))], lr=0)


@pytest.mark.parametrize("device_path", ["torch", pytest.param("cpp", marks=needs_cpp)])
def test_equals_torch_sparse_adam_on_row_sparse_gradients(device_path, monkeypatch):
    """torch.optim.SparseAdam is an independent reference: it updates the moments and values of
    the rows a sparse gradient names and leaves the rest, with one step count per parameter."""
    if device_path == "torch":
        monkeypatch.setattr("nerfspec.train.lazy_adam._runs_in_cpp", lambda p: False)
    grads = sparse_grads(8, seed=3)
    settings = dict(lr=1e-2, betas=(0.9, 0.99), eps=1e-15)
    lazy, opt = run(LazyAdam, grads, **settings)
    p = torch.nn.Parameter(torch.linspace(-1, 1, 24).reshape(12, 2))
    ref = torch.optim.SparseAdam([p], **settings)
    for g in grads:
        touched = (g != 0).any(dim=1).nonzero()[:, 0]
        p.grad = torch.sparse_coo_tensor(touched[None], g[touched], g.shape, check_invariants=True)
        ref.step()
    torch.testing.assert_close(lazy, p.detach(), atol=1e-7, rtol=1e-6)
    mine, theirs = opt.state[opt.param_groups[0]["params"][0]], ref.state[p]
    for k in ("exp_avg", "exp_avg_sq"):
        torch.testing.assert_close(mine[k], theirs[k], atol=1e-9, rtol=1e-5)
    assert int(mine["step"]) == int(theirs["step"]) == 8
