"""Data-parallel training: gradients averaged over gloo ranks equal one process on all the rays;
2 CPU processes through the real CLI end with the same weights."""

import subprocess
import sys

import torch

from nerfspec.config import dump_toml
from nerfspec.models import load_run
from nerfspec.run import checkpoint_paths
from tests.conftest import tiny_config_dict


def field_and_rays():
    """A small gauss field and 64 random rays' points with target colours (same on every rank)."""
    from nerfspec.config import config_from_dict
    from nerfspec.models import build_models

    torch.manual_seed(0)
    cfg = config_from_dict({"data": {"aabb": [-1.0, -1, -1, 1, 1, 1]},
                            "field": {"encoding": "gauss", "depth": 2, "width": 32, "precision": "fp32",
                                      "gauss": {"features": 16}}})
    field, _ = build_models(cfg, torch.device("cpu"))
    g = torch.Generator().manual_seed(1)
    x, d = torch.rand(64, 3, generator=g) * 2 - 1, torch.nn.functional.normalize(torch.randn(64, 3, generator=g), dim=-1)
    return field, x, d, torch.rand(64, 3, generator=g)


def loss_of(field, x, d, target):
    sigma, rgb = field(x, d)
    return ((rgb - target) ** 2).mean() + 1e-2 * sigma.mean()


def rank_gradients(rank: int, world: int, port: int, out: str) -> None:
    """One rank: the loss on its share of the rays, gradients averaged over the ranks."""
    import torch.distributed as dist

    from nerfspec.distributed import DistContext, average_gradients

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    field, x, d, target = field_and_rays()
    share = slice(rank * 64 // world, (rank + 1) * 64 // world)
    loss_of(field, x[share], d[share], target[share]).backward()
    params = list(field.parameters())
    average_gradients(params, DistContext(rank, world, rank))
    if rank == 0:
        torch.save([p.grad for p in params], out)
    dist.destroy_process_group()


def test_averaged_gradients_equal_one_process_on_the_union_of_the_rays(tmp_path):
    """Two gloo ranks with 32 rays each, averaged: the gradient of the mean loss over all 64
    rays in one process (a sum over ranks would be twice it)."""
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "grads.pt"
    mp.start_processes(rank_gradients, args=(2, port, str(out)), nprocs=2, start_method="spawn")
    field, x, d, target = field_and_rays()
    loss_of(field, x, d, target).backward()
    averaged = torch.load(out)
    assert len(averaged) == len(list(field.parameters())) > 0
    used = [(got, p.grad) for got, p in zip(averaged, field.parameters()) if p.grad is not None]
    assert len(used) >= 4
    for got, want in used:
        torch.testing.assert_close(got, want, atol=1e-7, rtol=1e-5)


def test_two_process_gloo_training_and_resume(tiny_scene, tmp_path):
    """Two CPU ranks through the real CLI end with the same weights, rank 0 alone reports; after
    --resume the ranks keep drawing different rays: the checkpoint holds each rank's generator
    state and each rank takes its own (had both taken rank 0's, they would draw the same rays
    and end in the same state)."""
    from nerfspec.run import read_checkpoint

    cfg = tiny_config_dict(tiny_scene, tmp_path / "out", max_steps=6, checkpoint_every=6, threads=1)
    cfg["name"] = "ddp"
    path = tmp_path / "ddp.toml"
    path.write_text(dump_toml(cfg))
    first = subprocess.run([sys.executable, "-m", "nerfspec", "train", str(path), "--gpus", "2"],
                           capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    # gradients were averaged: both ranks end with bit-identical weights
    assert "2 ranks, weights identical across ranks: True" in first.stdout
    assert first.stdout.count("trained 6 steps") == 1  # only rank 0 reports and writes
    run_dir = tmp_path / "out" / "ddp"
    again = subprocess.run([sys.executable, "-m", "nerfspec", "train", "--resume", str(run_dir), "--max-steps", "12",
                            "--gpus", "2"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "2 ranks, weights identical across ranks: True" in again.stdout
    assert load_run(run_dir).step == 12
    state = read_checkpoint(checkpoint_paths(run_dir)[0])
    assert state["step"] == 12
    rank0, rank1 = state["rng"]["rays_by_rank"]
    assert torch.equal(rank0, state["rng"]["rays"])
    assert not torch.equal(rank0, rank1)


def test_rank_ray_state_picks_the_ranks_own_state():
    from nerfspec.distributed import DistContext, rank_ray_state

    a, b = torch.tensor([1], dtype=torch.uint8), torch.tensor([2], dtype=torch.uint8)
    rng = {"rays": a, "rays_by_rank": [a, b]}
    assert torch.equal(rank_ray_state(rng, DistContext(1, 2, 1)), b)
    assert torch.equal(rank_ray_state(rng, DistContext(0, 2, 0)), a)
    assert torch.equal(rank_ray_state({"rays": a}, None), a)
    assert rank_ray_state({"rays": a}, DistContext(1, 2, 1)) is None  # saved by one process
    assert rank_ray_state(rng, DistContext(2, 3, 2)) is None  # saved with another world size
