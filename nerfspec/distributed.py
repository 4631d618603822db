"""Data-parallel training over processes (torchrun): each rank draws its own rays, gradients
are averaged, rank 0 alone writes outputs.

Start with ``torchrun --nproc_per_node=N -m nerfspec train ...`` (or ``nerfspec train --gpus N``):
NCCL on CUDA, gloo on the CPU.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass
class DistContext:
    rank: int
    world_size: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_from_env(device_name: str) -> DistContext | None:
    """Join the process group torchrun describes (WORLD_SIZE > 1), else None."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return None
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device_name != "cpu" and torch.cuda.is_available()
    if use_cuda:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistContext(dist.get_rank(), dist.get_world_size(), local_rank)


def average_gradients(params: list[nn.Parameter], ctx: DistContext) -> None:
    """g <- (1/W) sum over ranks of g, in one flat all-reduce; a missing gradient counts as 0
    (a rank whose rays held no samples still takes part)."""
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= ctx.world_size
    offset = 0
    for p, g in zip(params, grads):
        n = g.numel()
        p.grad = flat[offset:offset + n].view_as(p).clone()
        offset += n


def agree_max(values: list[float], device: torch.device) -> list[float]:
    """Element-wise maximum of ``values`` over ranks (stop flags, elapsed time)."""
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return t.tolist()


def broadcast_state(module: nn.Module, src: int = 0) -> None:
    """Copy every parameter and buffer of ``module`` from rank ``src`` to all ranks."""
    for t in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(t.data, src)


def weights_in_sync(module: nn.Module, device: torch.device) -> bool:
    """Whether every rank holds bit-identical parameters (max and min of a checksum agree)."""
    flat = torch.cat([p.detach().reshape(-1).double() for p in module.parameters()])
    sums = torch.stack([flat.sum(), (flat * torch.arange(1, flat.numel() + 1, device=flat.device,
                                                          dtype=torch.float64)).sum()])
    hi, lo = sums.clone().to(device), (-sums).to(device)
    dist.all_reduce(hi, op=dist.ReduceOp.MAX)
    dist.all_reduce(lo, op=dist.ReduceOp.MAX)
    return bool(torch.equal(hi, -lo))


def device_for(ctx: DistContext | None, device: torch.device) -> torch.device:
    if ctx is not None and device.type == "cuda":
        return torch.device("cuda", ctx.local_rank)
    return device


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def gather_states(state: torch.Tensor, ctx: DistContext) -> list[torch.Tensor]:
    """Every rank's generator state (ByteTensor) in rank order. Collective: every rank must
    call it."""
    states: list = [None] * ctx.world_size
    dist.all_gather_object(states, state.cpu())
    return states


def rank_ray_state(rng: dict, ctx: DistContext | None) -> torch.Tensor | None:
    """The ray generator state this rank resumes from: its own from ``rng["rays_by_rank"]``
    when the checkpoint holds one per rank for this world size, rank 0's ``rng["rays"]``
    without data parallelism; None when this rank has no saved state of its own (a run saved
    with another number of ranks), so the caller must draw a fresh seed."""
    by_rank = rng.get("rays_by_rank")
    if ctx is None:
        return rng["rays"]
    if by_rank is not None and len(by_rank) == ctx.world_size:
        return by_rank[ctx.rank]
    return rng["rays"] if ctx.world_size == 1 else None


def rank_seed(seed: int, ctx: DistContext | None) -> int:
    """The ray-sampling seed of a rank: ranks draw different rays."""
    return seed if ctx is None else seed + 1_000_003 * ctx.rank




def launch_processes(n: int, argv: list[str]) -> int:
    """Run ``nerfspec ARGV`` (its ``--gpus`` taken out) under torch.distributed.run with ``n``
    processes on this machine; the launcher's exit code."""
    rest, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "--gpus":
            skip = True
            continue
        if not a.startswith("--gpus="):
            rest.append(a)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n}",
           "-m", "nerfspec", *rest]
    return subprocess.call(cmd)
