"""Where the training step's time goes, for one or more configs on this machine, side by side.

Runs the real ``Trainer.train_step`` with its parts timed in place: the occupancy-grid update,
drawing the batch, sampling (marching plus the early-stop density pass), the optimiser, and the
rest of the step, the training pass (field forward and backward, compositing, loss). The
sampler's gradient-free density queries (early stop, grid updates) are timed wherever they run.
After each timed step the field's forward and backward alone run again on that step's samples,
so the training pass splits into the field and everything around it. Prints rays/s, samples/s,
ms/step and the shares, and, for MLP fields, the achieved GFLOP/s next to a measured GEMM. The
first ``--warmup`` steps (occupancy grid still coarse) are trained but not timed.

``--count`` times nothing: it counts the aten ops (about one kernel launch each on a GPU) and the
host waits of a training step, a step with an occupancy-grid update and a rendered chunk of
``--chunk`` rays, on the code path a CUDA device takes (PyTorch hash grid, one-pass early stop,
dense Adam, device counters read only at log steps, a grid update's densities in one call,
rendering in a few passes), run here on the CPU. The CPU's ray-marching op stands in for
nerfacc's traversal and counts as its one wait. On a GPU every clock read waits for the device
(``torch.cuda.synchronize``), and the GEMM peak is the device's.

    python scripts/bench_train.py configs/lego_gauss.toml configs/lego_hashgrid.toml --set train.threads=2
    python scripts/bench_train.py configs/lego_hashgrid_gpu.toml --count
"""

from __future__ import annotations

import argparse
import time

import torch

import nerfspec.train.trainer as trainer_module
from nerfspec.config import load_config
from nerfspec.memory import keep_freed_memory
from nerfspec.opcount import OpCounter
from nerfspec.precision import resolve_precision
from nerfspec.render.grid import GPU_RENDER_PASSES, GPU_UPDATE_CHUNK
from nerfspec.render.renderer import render_rays_inference
from nerfspec.train import Trainer

PARTS = ("update", "batch", "sample", "optim", "training_pass")


def device_sync(device: torch.device | str):
    """A function that waits for ``device``'s queued work (CUDA kernels run after their launch
    returns), called before each clock read; a no-op on the CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def gemm_gflops(n: int = 65536, k: int = 256, dtype=torch.float32, repeats: int = 5,
                device: torch.device | str = "cpu") -> float:
    """Measured GFLOP/s of an (n x k) @ (k x k) matmul on ``device`` (the training device's peak
    for the MLP's shapes)."""
    sync = device_sync(device)
    a = torch.randn(n, k, dtype=dtype, device=device)
    b = torch.randn(k, k, dtype=dtype, device=device)
    a @ b
    sync()
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    sync()
    return 2 * n * k * k * repeats / (time.perf_counter() - t0) / 1e9


def linear_flops_per_sample(module: torch.nn.Module) -> int:
    """Forward FLOPs per sample of all Linear layers, 2 * in * out each (heads included)."""
    return sum(2 * m.in_features * m.out_features for m in module.modules() if isinstance(m, torch.nn.Linear))


class Timed:
    """Wraps a callable; adds the seconds of each call to ``seconds`` and keeps its last result.
    ``sync`` runs before each clock read (``device_sync``), so a call's queued device work
    counts as its own."""

    def __init__(self, fn, sync=lambda: None):
        self.fn, self.sync, self.seconds, self.last = fn, sync, 0.0, None

    def __call__(self, *args, **kwargs):
        self.sync()
        t0 = time.perf_counter()
        self.last = out = self.fn(*args, **kwargs)
        self.sync()
        self.seconds += time.perf_counter() - t0
        return out


def shares(totals: dict[str, float], step_s: float) -> dict[str, float]:
    """Percent of the step time of each part; ``totals`` holds the seconds of the parts other
    than the training pass, plus ``queries`` (density queries, inside update and sample) and
    ``field`` (the field's forward and backward of the training pass, timed alone)."""
    out = {k: 100.0 * totals[k] / step_s for k in ("update", "batch", "sample", "optim")}
    out["training_pass"] = 100.0 - sum(out.values())
    out["field"] = 100.0 * totals["field"] / step_s
    out["queries"] = 100.0 * totals["queries"] / step_s
    out["outside_field"] = 100.0 - out["field"] - out["queries"]
    return out


def bench(config: str, overrides: list[str], warmup: int, steps: int) -> dict:
    """Train ``warmup`` steps, then time ``steps`` real steps part by part."""
    cfg = load_config(config, overrides + ["train.val_every=0", "name=bench"])
    trainer = Trainer(cfg, run_dir=None, quiet=True)
    sync = device_sync(trainer.device)
    t0 = time.perf_counter()
    for _ in range(warmup):
        trainer.train_step()
    sync()
    warmup_s = time.perf_counter() - t0

    field, est = trainer.field, trainer.estimator
    queries = Timed(field.density, sync)
    parts = {"update": Timed(est.update, sync), "batch": Timed(trainer.batcher.sample_with_views, sync),
             "sample": Timed(lambda: None), "optim": Timed(trainer.optimizer.step, sync)}
    field.density = queries  # every gradient-free query goes through the instance attribute
    est.update, trainer.batcher.sample_with_views = parts["update"], parts["batch"]
    # "sample": marching, plus the separate early-stop pass where the step has one
    est.traverse, est.prune = Timed(est.traverse, sync), Timed(est.prune, sync)
    trainer.optimizer.step = parts["optim"]
    step_pass = Timed(trainer_module.forward_backward)  # to see which samples were composited
    trainer_module.forward_backward = step_pass
    choose = trainer.early_stop.choose
    modes = []
    trainer.early_stop.choose = lambda: modes.append(choose()) or modes[-1]
    step_s = field_s = 0.0
    rays = samples = 0
    for _ in range(steps):
        sync()
        t0 = time.perf_counter()
        stats = trainer.train_step()
        sync()
        step_s += time.perf_counter() - t0
        rays += stats["rays"]
        samples += stats["samples"]
        origins, dirs = parts["batch"].last[:2]
        s = step_pass.last[0].samples
        if s is not None and len(s):
            pts, d = s.points(origins, dirs), dirs[s.ray_indices]
            sync()
            t0 = time.perf_counter()
            sig, rgb = field(pts, d)
            (sig.sum() * 0 + rgb.sum()).backward()  # forward + backward through the field alone
            sync()
            field_s += time.perf_counter() - t0
            trainer.optimizer.zero_grad(set_to_none=True)
    trainer_module.forward_backward = step_pass.fn
    # "sample" covers marching and the separate early-stop pass (grid.prune), wherever they run
    parts["sample"].seconds = est.traverse.seconds + est.prune.seconds
    totals = {k: p.seconds for k, p in parts.items()}
    totals.update(queries=queries.seconds, field=field_s)
    mlp_flops = 3 * linear_flops_per_sample(field) * samples  # backward ~ 2x forward
    return {
        "config": config, "encoding": cfg.field.encoding,
        "early_stop": f"{trainer.early_stop.mode} ({modes.count('separate')}/{len(modes)})",
        "precision": resolve_precision(cfg.field.precision, trainer.device), "device": str(trainer.device),
        "threads": torch.get_num_threads(), "warmup_s": warmup_s, "steps": steps,
        "samples_per_ray": samples / max(rays, 1), "rays_per_step": rays / steps,
        "occupied": est.occupied_fraction, "rays_per_s": rays / step_s, "samples_per_s": samples / step_s,
        "ms_per_step": 1000 * step_s / steps, "shares": shares(totals, step_s),
        "field_samples_per_s": samples / max(field_s, 1e-9),
        "mlp_gflops": mlp_flops / max(field_s, 1e-9) / 1e9,
        "parameters": sum(p.numel() for p in field.parameters()),
    }


# the choices a CUDA device makes for itself, made explicit so the CPU takes the same path
GPU_PATH = ["field.hashgrid.backend=torch", "sampler.early_stop_round=0",
            "sampler.train_early_stop=separate", "train.lazy_tables=off",
            f"sampler.render_passes={GPU_RENDER_PASSES}", f"sampler.update_chunk={GPU_UPDATE_CHUNK}"]


def count(config: str, overrides: list[str], warmup: int, chunk: int) -> dict[str, OpCounter]:
    """Op and host-wait counts on the GPU's code path (``GPU_PATH``) after ``warmup`` steps (at
    least one): a training step without a grid update (not a log step), one with, and ``chunk``
    rays of a training view rendered for evaluation. The config's sizes are kept (tables, grid,
    cells per update, rays); the occupancy grid starts carved by the training views'
    silhouettes, as training does."""
    cfg = load_config(config, overrides + GPU_PATH + ["train.val_every=0", "name=count"])
    trainer = Trainer(cfg, run_dir=None, quiet=True)
    every, log_every = cfg.sampler.update_every, cfg.train.log_every
    # a GPU reads its fault counters only every log_every steps (train/faults.py); put back
    # afterwards, since the trainer module is shared with whatever runs in this process next
    cpu_rule = trainer_module.sync_point
    trainer_module.sync_point = lambda device, step, n: step % n == 0
    try:
        return _count_steps(trainer, warmup, every, log_every, chunk)
    finally:
        trainer_module.sync_point = cpu_rule


def next_step(step: int, every: int, log_every: int, update: bool) -> int:
    """The first step from ``step`` on that updates the grid (``update``) or not, and is not a
    log step (after it, ``step + 1`` is not a multiple of ``log_every``)."""
    while (step % every == 0) != update or (step + 1) % log_every == 0:
        step += 1
    return step


def _count_steps(trainer, warmup: int, every: int, log_every: int, chunk: int) -> dict[str, OpCounter]:
    """``count``'s measurements on a built trainer. The counted steps are reached by moving the
    step counter (which only moves the learning-rate schedule), not by training up to them:
    which ops a step issues depends on whether it updates the grid or logs, not on how far
    training has gone."""
    for _ in range(max(warmup, 1)):  # the optimiser creates its state on its first step
        trainer.train_step()
    counts = {}
    trainer.step = next_step(trainer.step, every, log_every, update=False)
    with OpCounter() as counts["step"]:
        trainer.train_step()
    trainer.step = next_step(trainer.step, every, log_every, update=True)
    with OpCounter() as counts["grid_update_step"]:
        trainer.train_step()
    origins, dirs = trainer.train_split.cameras[0].to(trainer.device).image_rays(0)
    step = max(1, origins.shape[0] // chunk)
    o, d = origins[::step][:chunk], dirs[::step][:chunk]
    trainer.field.eval()
    bg = torch.ones(3)
    with OpCounter() as counts[f"render_{o.shape[0]}_rays"]:
        render_rays_inference(trainer.field, trainer.estimator, o, d, bg)
    return counts


ROWS = [
    ("encoding", "{}"), ("early_stop", "{}"), ("precision", "{}"), ("threads", "{}"), ("parameters", "{:,}"),
    ("samples_per_ray", "{:.1f}"), ("rays_per_step", "{:.0f}"), ("occupied", "{:.3f}"),
    ("rays_per_s", "{:,.0f}"), ("samples_per_s", "{:,.0f}"), ("ms_per_step", "{:.0f}"),
    ("share update %", "{:.1f}"), ("share batch %", "{:.1f}"), ("share sample %", "{:.1f}"),
    ("share optim %", "{:.1f}"), ("share training_pass %", "{:.1f}"),
    ("field fwd+bwd (training pass) %", "{:.1f}"), ("density queries, no grad %", "{:.1f}"),
    ("outside the field %", "{:.1f}"), ("field alone samples/s", "{:,.0f}"), ("MLP GFLOP/s", "{:.1f}"),
]


def row_value(result: dict, key: str):
    share_keys = {"field fwd+bwd (training pass) %": "field", "density queries, no grad %": "queries",
                  "outside the field %": "outside_field"}
    if key.startswith("share "):
        return result["shares"][key[6:-2]]
    if key in share_keys:
        return result["shares"][share_keys[key]]
    return {"field alone samples/s": result["field_samples_per_s"], "MLP GFLOP/s": result["mlp_gflops"]}.get(
        key, result.get(key))


def table(results: list[dict]) -> str:
    """The results side by side, one column per config."""
    names = [r["config"].rsplit("/", 1)[-1] for r in results]
    width = max(12, *(len(n) for n in names))
    lines = [f"{'':34s}" + "".join(f"{n:>{width + 2}s}" for n in names)]
    for key, fmt in ROWS:
        cells = "".join(f"{fmt.format(row_value(r, key)):>{width + 2}s}" for r in results)
        lines.append(f"{key:34s}{cells}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("configs", nargs="+", help="one or more TOML configs, benchmarked one after another")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override for every config (repeatable)")
    parser.add_argument("--warmup", type=int, default=None,
                        help="untimed steps first (default 200; with --count 0)")
    parser.add_argument("--steps", type=int, default=30, help="timed steps")
    parser.add_argument("--count", action="store_true",
                        help="count ops and host waits on the GPU's code path instead of timing")
    parser.add_argument("--chunk", type=int, default=4096, help="rays of the rendered chunk --count counts")
    parser.add_argument("--default-malloc", action="store_true",
                        help="leave glibc's allocator settings alone (for comparison)")
    args = parser.parse_args(argv)
    if not args.default_malloc:
        keep_freed_memory()  # as the nerfspec command does
    if args.count:
        for config in args.configs:
            for name, c in count(config, args.overrides, args.warmup or 0, args.chunk).items():
                print(f"{config} {name}: {c.summary()}", flush=True)
        return
    warmup = 200 if args.warmup is None else args.warmup
    results = []
    for config in args.configs:
        results.append(bench(config, args.overrides, warmup, args.steps))
        print(f"{config}: warm-up {warmup} steps in {results[-1]['warmup_s']:.1f} s", flush=True)
    print(table(results))
    device = results[-1]["device"]  # the training device's peak, not the host's
    line = f"machine GEMM ({device}): float32 {gemm_gflops(device=device):.1f} GFLOP/s"
    if any(r["precision"] == "bf16" for r in results):
        line += f", bf16 {gemm_gflops(dtype=torch.bfloat16, repeats=2, device=device):.1f} GFLOP/s"
    print(line)


if __name__ == "__main__":
    main()
