"""Speed of the hash-grid encoding on this CPU, next to the memory-traffic bound.

For each implementation (``cpp``: the C++ op; ``torch``: plain PyTorch; ``compile``: the PyTorch
path under ``torch.compile``), thread count and batch size it times the forward + backward of

- the encoding alone (N points -> (N, L F) features, gradient into the table), and
- the whole field (encoding + density MLP + spherical harmonics + colour MLP),

on points placed like the samples of an occupancy-pruned NeRF batch (short runs along rays
that cross a surface) and on uniform points. It prints samples/s with the wall time's median
and the CPU time (on a shared machine the two differ), the bytes each sample moves through
the tables, this machine's measured copy bandwidth and the samples/s that bandwidth would allow,
and what one optimiser step over the tables costs: dense Adam as the trainer runs it
(``foreach``), dense fused Adam, and ``LazyAdam`` (skips entries without gradient).

    python scripts/bench_hashgrid.py
    python scripts/bench_hashgrid.py --points 10240 --threads 2 --log2-table-size 17 --implementations cpp
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time

import torch

from nerfspec.config import HashGridConfig
from nerfspec.cpu import cpu_flags, cpu_name
from nerfspec.encodings.hashgrid import HashGridEncoding, hash_grid_torch
from nerfspec.encodings.hashgrid_cpp import cpu_op_available
from nerfspec.fields.hashgrid import HashGridField
from nerfspec.train.lazy_adam import LazyAdam
from nerfspec.memory import keep_freed_memory

IMPLEMENTATIONS = ("cpp", "torch", "compile")
AABB = torch.tensor([-1.5, -1.5, -1.5, 1.5, 1.5, 1.5])


def cpu_description() -> str:
    """Model name, whether avx512_bf16 is among the flags, logical CPUs, torch version."""
    bf16 = "avx512_bf16" in cpu_flags()
    return (f"{cpu_name()}, avx512_bf16 {'yes' if bf16 else 'no'}, {os.cpu_count()} logical CPUs, "
            f"torch {torch.__version__}")


def load_average() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def nerf_like_samples(n: int, generator: torch.Generator, per_ray: int = 16,
                      step: float = 0.01) -> tuple[torch.Tensor, torch.Tensor]:
    """World points (n, 3) and their unit ray directions, as a pruned NeRF batch holds them.

    Rays start on a sphere of radius 4 and aim near the origin; each carries ``per_ray`` samples
    ``step`` apart (the sampler's render step) straddling where it meets a sphere of radius 1
    (or its closest approach, for a miss), inside the [-1.5, 1.5]^3 box.
    """
    rays = math.ceil(n / per_ray)
    origin = torch.nn.functional.normalize(torch.randn(rays, 3, generator=generator), dim=-1) * 4.0
    target = torch.randn(rays, 3, generator=generator) * 0.3
    d = torch.nn.functional.normalize(target - origin, dim=-1)
    b = (origin * d).sum(-1)
    disc = b * b - (origin * origin).sum(-1) + 1.0
    t = -b - disc.clamp(min=0).sqrt()
    ts = t[:, None] + (torch.arange(per_ray) - per_ray / 2) * step
    x = (origin[:, None] + ts[..., None] * d[:, None]).reshape(-1, 3)[:n]
    return x.clamp(-1.5, 1.5), d.repeat_interleave(per_ray, 0)[:n]


def uniform_samples(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.rand(n, 3, generator=generator) * 3.0 - 1.5
    return x, torch.nn.functional.normalize(torch.randn(n, 3, generator=generator), dim=-1)


def timed(fn, repeats: int) -> tuple[float, float]:
    """(median wall seconds, mean CPU seconds of the process) of ``fn()`` after one warm-up."""
    fn()
    walls, cpu0 = [], time.process_time()
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
    return statistics.median(walls), (time.process_time() - cpu0) / repeats


def copy_bandwidth(repeats: int = 5, mbytes: int = 256) -> float:
    """Measured GB/s of a large float32 copy (bytes read + bytes written)."""
    a = torch.ones(mbytes * 2 ** 20 // 4)
    b = torch.empty_like(a)
    wall, _ = timed(lambda: b.copy_(a), repeats)
    return 2 * a.numel() * 4 / wall / 1e9


def traffic_per_sample(levels: int, features: int) -> dict[str, int]:
    """Bytes one sample moves through the tables in forward + backward.

    ``useful``: the 8 corner rows per level read in the forward, read and written in the
    backward (8 L F 4 bytes each), plus the features and their gradient (L F 4 each way).
    ``lines``: the same when every corner row costs a whole 64-byte cache line (no reuse).
    """
    row, out = 8 * levels * features * 4, levels * features * 4
    return {"useful": 3 * row + 2 * out + 2 * 12, "lines": 3 * 8 * levels * 64 + 2 * out + 2 * 12}


def encoding_step(enc: HashGridEncoding, v: torch.Tensor, upstream: torch.Tensor, forward=None):
    """One forward + backward of the encoding, gradient into a fresh ``table.grad``."""
    def run():
        enc.table.grad = None  # as the trainer's zero_grad(set_to_none=True)
        out = forward(v) if forward is not None else enc(v)
        (out * upstream).sum().backward()
    return run


def field_step(field: HashGridField, x: torch.Tensor, dirs: torch.Tensor, gs: torch.Tensor, gc: torch.Tensor):
    def run():
        field.zero_grad(set_to_none=True)
        sigma, rgb = field(x, dirs)
        ((sigma * gs).sum() + (rgb * gc).sum()).backward()
    return run


def make_forward(implementation: str, enc: HashGridEncoding):
    """The encoding's forward for an implementation, or None for the module's own."""
    if implementation == "cpp":
        enc.backend = "cpp"
        return None
    enc.backend = "torch"
    if implementation == "compile":
        return torch.compile(lambda v: hash_grid_torch(v, enc.table, enc.layout), dynamic=False)
    return None


def bench_adam(table: torch.nn.Parameter, grad: torch.Tensor, repeats: int) -> dict[str, float]:
    """ms per optimiser step over the table with a given gradient, per optimiser."""
    results = {}
    optimisers = {
        "adam_foreach": lambda: torch.optim.Adam([table], lr=1e-2, eps=1e-15, foreach=True),
        "adam_fused": lambda: torch.optim.Adam([table], lr=1e-2, eps=1e-15, fused=True),
        "lazy_adam": lambda: LazyAdam([table], lr=1e-2),
    }
    for name, make in optimisers.items():
        try:
            opt = make()
        except (RuntimeError, TypeError) as exc:  # fused Adam needs torch >= 2.4 on the CPU
            results[name] = float("nan")
            print(f"  {name}: unavailable ({exc})", file=sys.stderr)
            continue
        table.grad = grad
        wall, _ = timed(opt.step, repeats)
        results[name] = wall * 1e3
    table.grad = None
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", default="10240,30720,61440", help="batch sizes (comma-separated)")
    parser.add_argument("--threads", default="1,2", help="torch thread counts (comma-separated)")
    parser.add_argument("--implementations", default="cpp,torch,compile",
                        help=f"any of {', '.join(IMPLEMENTATIONS)} (comma-separated)")
    parser.add_argument("--distributions", default="nerf,uniform",
                        help="nerf (samples along rays near a surface) and/or uniform")
    parser.add_argument("--levels", type=int, default=16, help="L, levels of the grid")
    parser.add_argument("--features", type=int, default=2, help="F, features per level")
    parser.add_argument("--log2-table-size", type=int, default=19, help="log2 T, rows per hashed level")
    parser.add_argument("--base-resolution", type=int, default=16)
    parser.add_argument("--max-resolution", type=int, default=2048)
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"),
                        help="the field MLPs' precision (auto: bf16 where the CPU has bf16 units)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per figure (median)")
    parser.add_argument("--skip-field", action="store_true", help="time the encoding only")
    parser.add_argument("--skip-adam", action="store_true", help="do not time the optimiser steps")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    points = [int(p) for p in args.points.split(",")]
    threads = [int(t) for t in args.threads.split(",")]
    impls = [i for i in args.implementations.split(",") if i]
    unknown = [i for i in impls if i not in IMPLEMENTATIONS]
    if unknown:
        parser.error(f"unknown implementation(s) {', '.join(unknown)}; choose from {', '.join(IMPLEMENTATIONS)}")
    if "cpp" in impls and not cpu_op_available():
        impls.remove("cpp")
    keep_freed_memory()  # as the CLI does: large tensors are reused, not mapped afresh

    cfg = HashGridConfig(levels=args.levels, features_per_level=args.features,
                         log2_table_size=args.log2_table_size, base_resolution=args.base_resolution,
                         max_resolution=args.max_resolution)
    field = HashGridField(cfg, AABB, view_dirs=True, precision=args.precision)
    enc = field.encoding
    torch.nn.init.uniform_(enc.table, -1e-4, 1e-4)
    lay = enc.layout
    traffic = traffic_per_sample(args.levels, args.features)
    print(f"machine: {cpu_description()}; load average at start {load_average()}")
    print(f"grid: L={args.levels} F={args.features} T=2^{args.log2_table_size} N={args.base_resolution}.."
          f"{args.max_resolution}: {lay.rows:,} rows ({sum(lay.dense)} dense levels), "
          f"{lay.rows * args.features * 4 / 2 ** 20:.0f} MiB of table; MLP precision {args.precision}")
    print(f"traffic per sample (fwd+bwd): {traffic['useful']:,} B of rows touched, "
          f"{traffic['lines']:,} B if each corner costs a 64-byte line")
    record: dict = {"machine": cpu_description(), "grid": vars(args), "traffic": traffic, "runs": [], "adam": {}}
    generator = torch.Generator().manual_seed(0)
    samples = {}
    for dist in args.distributions.split(","):
        make = nerf_like_samples if dist == "nerf" else uniform_samples
        samples[dist] = {n: make(n, generator) for n in points}

    header = "| threads | impl | points | dist | encoding samples/s (wall; per CPU-s) | field samples/s (wall; per CPU-s) |"
    for t in threads:
        torch.set_num_threads(t)
        bw = copy_bandwidth()
        bound_useful, bound_lines = bw * 1e9 / traffic["useful"], bw * 1e9 / traffic["lines"]
        print(f"\nthreads {t}: copy bandwidth {bw:.1f} GB/s -> traffic bound {bound_useful / 1e6:.2f} M samples/s "
              f"(rows only), {bound_lines / 1e6:.2f} M samples/s (whole lines)")
        print(header + "\n|---|---|---|---|---|---|")
        for impl in impls:
            forward = make_forward(impl, enc)
            for dist, by_n in samples.items():
                for n, (x, dirs) in by_n.items():
                    v = (x - AABB[:3]) / (AABB[3:] - AABB[:3])
                    up = torch.randn(n, enc.out_dim, generator=generator)
                    try:
                        wall, cpu = timed(encoding_step(enc, v, up, forward), args.repeats)
                    except Exception as exc:  # torch.compile can fail for want of a compiler
                        print(f"| {t} | {impl} | {n} | {dist} | failed: {type(exc).__name__}: {exc} | |")
                        break
                    row = {"threads": t, "impl": impl, "points": n, "dist": dist, "copy_gbs": bw,
                           "encoding_sps": n / wall, "encoding_sps_cpu": n / cpu}
                    field_text = "-"
                    if not args.skip_field and impl != "compile":
                        gs, gc = torch.randn(n, generator=generator), torch.randn(n, 3, generator=generator)
                        fwall, fcpu = timed(field_step(field, x, dirs, gs, gc), args.repeats)
                        row.update(field_sps=n / fwall, field_sps_cpu=n / fcpu)
                        field_text = f"{n / fwall / 1e3:,.0f}k; {n / fcpu / 1e3:,.0f}k"
                    record["runs"].append(row)
                    print(f"| {t} | {impl} | {n} | {dist} | {n / wall / 1e3:,.0f}k; {n / cpu / 1e3:,.0f}k | "
                          f"{field_text} |", flush=True)
        if not args.skip_adam:
            n = min(points, key=lambda p: abs(p - 10240))
            x, dirs = samples.get("nerf", next(iter(samples.values())))[n]
            enc.backend = "cpp" if "cpp" in impls else "torch"
            encoding_step(enc, (x - AABB[:3]) / (AABB[3:] - AABB[:3]), torch.randn(n, enc.out_dim))()
            grad = enc.table.grad.clone()
            adam = bench_adam(enc.table, grad, args.repeats)
            touched = float((grad != 0).float().mean())
            record["adam"][t] = {**adam, "touched_fraction": touched, "points": n}
            print(f"optimiser step over the tables ({enc.table.numel():,} parameters; a {n}-sample batch "
                  f"touches {touched:.1%} of them): " + ", ".join(f"{k} {v:.1f} ms" for k, v in adam.items()))
    print(f"\nload average at end {load_average()}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(record, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
