"""Where the training step's time goes, for a config on this machine.

Prints rays/s and samples/s of the training step, how the step's time splits between the
field (the training pass's forward and backward, and the gradient-free density queries the
sampler makes for early ray termination and occupancy updates) and everything else (marching,
compositing, batching, optimiser), and the field's achieved GFLOP/s next to this machine's
measured float32 GEMM GFLOP/s. The first ``--warmup`` steps (occupancy grid still coarse) are trained
but not timed, so the figures describe the steady state.

    python scripts/bench_train.py configs/lego_gauss.toml --warmup 200 --steps 30
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from nerfspec.config import load_config
from nerfspec.data.blender import composite
from nerfspec.fields.heads import resolve_precision
from nerfspec.memory import keep_freed_memory
from nerfspec.train import Trainer


def gemm_gflops(n: int = 65536, k: int = 256, dtype=torch.float32, repeats: int = 5) -> float:
    """Measured GFLOP/s of an (n x k) @ (k x k) matmul."""
    a, b = torch.randn(n, k, dtype=dtype), torch.randn(k, k, dtype=dtype)
    a @ b
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n * k * k * repeats / (time.perf_counter() - t0) / 1e9


def linear_flops_per_sample(module: torch.nn.Module) -> int:
    """Forward FLOPs per sample of all Linear layers, 2 * in * out each (heads included)."""
    return sum(2 * m.in_features * m.out_features for m in module.modules() if isinstance(m, torch.nn.Linear))


class TimedDensity:
    """``density_fn`` that adds the time of each call to ``seconds``."""

    def __init__(self, density_fn):
        self.density_fn, self.seconds = density_fn, 0.0

    def __call__(self, x):
        t0 = time.perf_counter()
        out = self.density_fn(x)
        self.seconds += time.perf_counter() - t0
        return out


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--warmup", type=int, default=200, help="untimed steps first")
    parser.add_argument("--steps", type=int, default=30, help="timed steps")
    parser.add_argument("--default-malloc", action="store_true",
                        help="leave glibc's allocator settings alone (for comparison)")
    args = parser.parse_args(argv)
    if not args.default_malloc:
        keep_freed_memory()  # as the nerfspec command does

    cfg = load_config(args.config, args.overrides + ["train.val_every=0", "name=bench"])
    trainer = Trainer(cfg, run_dir=None, quiet=True)
    t0 = time.perf_counter()
    for _ in range(args.warmup):
        trainer.train_step()
    print(f"warm-up: {args.warmup} steps in {time.perf_counter() - t0:.1f} s")

    field, est = trainer.field, trainer.estimator
    totals = {k: 0.0 for k in ("update", "batch", "sample", "field", "render", "optim")}
    rays = samples = 0
    queries = TimedDensity(field.density)  # the sampler's gradient-free field calls
    for _ in range(args.steps):
        # The same work as Trainer.train_step, phase by phase, plus the field pass alone.
        _, t = timed(lambda: est.update(trainer.step, queries, trainer.generator))
        totals["update"] += t
        (o, d, rgba), t = timed(lambda: trainer.batcher.sample(trainer.rays, trainer.generator))
        totals["batch"] += t
        s, t = timed(lambda: est.sample(o, d, queries))
        totals["sample"] += t
        pts, dirs = s.points(o, d), d[s.ray_indices]

        def field_pass():
            sig, rgb = field(pts, dirs)
            (sig.sum() * 0 + rgb.sum()).backward()  # forward + backward through the field alone
        _, t = timed(field_pass)
        totals["field"] += t
        trainer.optimizer.zero_grad(set_to_none=True)

        def render_pass():
            from nerfspec.render.renderer import render_rays
            bg = torch.rand(o.shape[0], 3)
            out = render_rays(field, est, o, d, bg, early_stop=False)
            loss = F.mse_loss(out.rgb, composite(rgba, bg))
            loss.backward()
        # render_pass repeats the field pass inside; its excess over field_pass is the renderer.
        _, t = timed(render_pass)
        totals["render"] += t
        _, t = timed(lambda: trainer.optimizer.step())
        totals["optim"] += t
        trainer.optimizer.zero_grad(set_to_none=True)
        trainer.step += 1
        rays += o.shape[0]
        samples += len(s)

    step_time = totals["update"] + totals["batch"] + totals["sample"] + totals["render"] + totals["optim"]
    field_time = totals["field"]
    flops = 3 * linear_flops_per_sample(field) * samples  # backward ~ 2x forward
    prec = resolve_precision(cfg.field.precision, trainer.device)
    print(f"config {args.config}: encoding={cfg.field.encoding} precision={prec} threads={torch.get_num_threads()}")
    print(f"samples/ray {samples / rays:.1f}, rays/step {rays / args.steps:.0f}, occupied cells "
          f"{getattr(est, 'occupied_fraction', float('nan')):.3f}")
    print(f"training step: {rays / step_time:,.0f} rays/s, {samples / step_time:,.0f} samples/s, "
          f"{step_time / args.steps * 1000:.0f} ms/step")
    for key in ("update", "batch", "sample", "render", "optim"):
        print(f"  {key:7s} {totals[key] / step_time * 100:5.1f}%")
    query_share = queries.seconds / step_time * 100
    field_share = field_time / step_time * 100
    print(f"field forward+backward (training pass): {field_share:.1f}% of the step")
    print(f"field density queries of the sampler (early stop, occupancy updates; no grad): {query_share:.1f}%")
    print(f"-> outside the field (marching, compositing, batching, optimiser): "
          f"{100 - field_share - query_share:.1f}%; outside the training pass: {100 - field_share:.1f}%")
    print(f"field: {flops / field_time / 1e9:.1f} GFLOP/s achieved; machine float32 GEMM "
          f"{gemm_gflops():.1f} GFLOP/s" + (f", bf16 GEMM {gemm_gflops(dtype=torch.bfloat16, repeats=1):.1f} GFLOP/s" if prec == "bf16" else ""))


if __name__ == "__main__":
    main()
