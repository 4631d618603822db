"""Spectral-bias toys: a plain MLP, Gaussian random Fourier features and RFF-CA side by side.

1D (default): fit sin(2 pi 20 x) on 512 points of [0, 1], full batch, Adam lr 1e-3, float32;
print the final MSE and the first step whose loss is below 1e-2. ``--tones 5,300`` fits a sum
of tones instead; method ``rffca_afe`` is RFF-CA with adaptive frequency enhancement at the
training fractions ``--afe-at`` (the residual's strongest DFT modes injected as tokens).

2D (``--image PATH``): fit an RGB(A) image, composited on white and resized to ``--size``^2,
from a regular grid of 1/4 of its pixels (even rows and columns) and report PSNR on the other
3/4, for the mappings none / basic / pe / gauss / rffca (Tancik et al. 2020, Fig. 4 set-up).

``--bench N``: forward + backward samples/s of the 3D fields (RFF-CA and the 4x256 Gaussian
MLP field, default configs) at N points, in bf16 and fp32.

Frequencies are in cycles per unit of the input box [0, 1]^d, as in ``nerfspec.encodings``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nerfspec.encodings import (
    BasicEncoding,
    Encoding,
    GaussianFourierEncoding,
    IdentityEncoding,
    PositionalEncoding,
)
from nerfspec.fields.rffca import RFFCANetwork

METHODS_1D = ("plain", "gauss", "rffca", "rffca_afe")
METHODS_2D = ("none", "basic", "pe", "gauss", "rffca")


class MLP(nn.Module):
    """y = W_out relu(... relu(W_1 gamma(v))): ``depth`` hidden ReLU layers of ``width``."""

    def __init__(self, encoding: Encoding, out_dim: int, depth: int = 4, width: int = 256):
        super().__init__()
        self.encoding = encoding
        layers: list[nn.Module] = []
        fan_in = encoding.out_dim
        for _ in range(depth):
            layers += [nn.Linear(fan_in, width), nn.ReLU()]
            fan_in = width
        layers.append(nn.Linear(fan_in, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, v: Tensor) -> Tensor:
        return self.net(self.encoding(v))


class RFFCARegressor(nn.Module):
    """y = W_out q_L(v): the RFF-CA network of the field with a linear read-out."""

    def __init__(self, net: RFFCANetwork, out_dim: int):
        super().__init__()
        self.net = net
        self.out = nn.Linear(net.dim, out_dim)

    def forward(self, v: Tensor) -> Tensor:
        return self.out(self.net(v))


def train(model: nn.Module, x: Tensor, y: Tensor, steps: int, lr: float,
          out_act=None, log_every: int = 0, name: str = "", afe=None) -> tuple[list[float], float]:
    """Full-batch Adam on the MSE; returns (loss per step, seconds). Sets RFF-CA's mask fraction
    and calls ``afe(step, model)`` before each step when given."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    net = getattr(model, "net", None)
    losses = []
    t0 = time.perf_counter()
    for step in range(steps):
        if isinstance(net, RFFCANetwork):
            net.set_fraction(step / steps)
        if afe is not None:
            afe(step, model)
        pred = model(x)
        if out_act is not None:
            pred = out_act(pred)
        loss = F.mse_loss(pred, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if log_every and (step + 1) % log_every == 0:
            print(f"  {name} step {step + 1}: loss {losses[-1]:.3e}", file=sys.stderr, flush=True)
    return losses, time.perf_counter() - t0


def first_below(losses: list[float], threshold: float) -> str:
    for i, value in enumerate(losses):
        if value < threshold:
            return str(i + 1)
    return "never"


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def rffca_net(args, in_dim: int, sigma: float, generator: torch.Generator) -> RFFCANetwork:
    return RFFCANetwork(in_dim, args.ca_base, args.ca_octaves, sigma, args.ca_token_dim, args.ca_dim,
                        args.ca_heads, args.ca_blocks, mask=args.ca_mask,
                        mask_release_fraction=args.ca_release, generator=generator,
                        variant=args.ca_variant)


# ---- 1D -----------------------------------------------------------------------------------------

def afe_1d(args, x: Tensor, y: Tensor):
    """The AFE hook of the 1D toy: at the fractions ``--afe-at`` inject the strongest modes of
    the residual on the training points (a regular grid; its DFT extent is N times the spacing)."""
    from nerfspec.fields.afe import afe_due, residual_peaks

    extent = float(x[1, 0] - x[0, 0]) * len(x)

    def hook(step: int, model: nn.Module) -> None:
        if not afe_due(step, args.steps, args.afe_at):
            return
        with torch.no_grad():
            resid = (model(x) - y).squeeze(-1)
        freqs = residual_peaks(resid, [extent], args.afe_tokens, args.afe_threshold,
                               exclude=model.net.bank.post_freqs)
        model.net.inject_frequencies(freqs)
        print(f"  AFE at step {step}: injected {[round(float(f), 2) for f in freqs[:, 0]]} cycles/unit",
              file=sys.stderr, flush=True)

    return hook


def run_1d(args) -> dict:
    x = torch.linspace(0.0, 1.0, args.points).unsqueeze(-1)
    tones = args.tones or [args.freq]
    y = sum(torch.sin(2.0 * math.pi * f * x) for f in tones)
    results = {}
    for name in args.methods or METHODS_1D:
        torch.manual_seed(args.seed)
        gen = torch.Generator().manual_seed(args.seed)
        if name == "plain":
            model = MLP(IdentityEncoding(1), 1, args.depth, args.width)
        elif name == "gauss":
            model = MLP(GaussianFourierEncoding(1, args.features, args.sigma, gen), 1, args.depth, args.width)
        elif name in ("rffca", "rffca_afe"):
            model = RFFCARegressor(rffca_net(args, 1, args.ca_sigma, gen), 1)
        else:
            raise SystemExit(f"error: unknown 1D method {name!r} (choose from {', '.join(METHODS_1D)})")
        afe = afe_1d(args, x, y) if name == "rffca_afe" else None
        losses, secs = train(model, x, y, args.steps, args.lr, log_every=args.log_every, name=name, afe=afe)
        with torch.no_grad():
            fit = model(x)
        results[name] = dict(losses=losses, secs=secs, fit=fit.squeeze(-1).numpy(),
                             params=n_params(model), mse=F.mse_loss(fit, y).item())
    target = " + ".join(f"sin(2 pi {f:g} x)" for f in tones)
    print(f"1D: {target}, {args.points} points, {args.steps} steps, Adam lr {args.lr:g}, "
          f"fp32; gauss sigma {args.sigma:g}, rffca base sigma {args.ca_sigma:g} x 2^0..2^{args.ca_octaves} "
          f"(mask {args.ca_mask}, variant {args.ca_variant}); AFE at {args.afe_at}")
    print(f"{'method':8s} {'params':>8s} {'final MSE':>11s} {'min MSE':>11s} {'first <1e-2':>12s} {'seconds':>8s}")
    for name, r in results.items():
        print(f"{name:8s} {r['params']:8d} {r['mse']:11.3e} {min(r['losses']):11.3e} "
              f"{first_below(r['losses'], 1e-2):>12s} {r['secs']:8.1f}")
    if args.plot:
        plot_1d(args.plot, x.squeeze(-1).numpy(), y.squeeze(-1).numpy(), results)
    return results


def plot_1d(path: str, x: np.ndarray, y: np.ndarray, results: dict) -> None:
    plt = _pyplot()
    if plt is None:
        return
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4))
    ax1.plot(x, y, "k-", lw=2, label="target")
    for name, r in results.items():
        ax1.plot(x, r["fit"], lw=1, label=name)
        ax2.semilogy(r["losses"], label=name)
    ax1.set_xlim(0, 0.25)
    ax1.set_title("fit (x in [0, 0.25])")
    ax2.set_title("training MSE")
    ax2.set_xlabel("step")
    for ax in (ax1, ax2):
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot written (pip install matplotlib)")
        return None
    return plt


# ---- 2D -----------------------------------------------------------------------------------------

def load_image(path: str, size: int) -> Tensor:
    """(size, size, 3) float image in [0, 1], RGBA composited on white, area-resized."""
    import imageio.v3 as iio

    img = torch.from_numpy(np.asarray(iio.imread(path))).float() / 255.0
    if img.ndim == 2:
        img = img[..., None].expand(-1, -1, 3)
    if img.shape[-1] == 4:
        img = img[..., :3] * img[..., 3:] + (1.0 - img[..., 3:])
    img = img[..., :3].permute(2, 0, 1)[None]
    if img.shape[-1] != size or img.shape[-2] != size:
        img = F.interpolate(img, size=(size, size), mode="area" if size < img.shape[-1] else "bilinear")
    return img[0].permute(1, 2, 0).contiguous()


def psnr(mse: float) -> float:
    return -10.0 * math.log10(max(mse, 1e-12))


def run_2d(args) -> dict:
    img = load_image(args.image, args.size)
    args.sigma2d = args.sigma2d or 10.0 * args.size / 512
    args.ca_sigma2d = args.ca_sigma2d or args.sigma2d / 2
    s = args.size
    ii, jj = torch.meshgrid(torch.arange(s), torch.arange(s), indexing="ij")
    coords = torch.stack([(jj + 0.5) / s, (ii + 0.5) / s], dim=-1)  # (s, s, 2) in [0, 1]^2
    train_mask = (ii % 2 == 0) & (jj % 2 == 0)
    x_tr, y_tr = coords[train_mask], img[train_mask]
    x_te, y_te = coords[~train_mask], img[~train_mask]
    pe_octaves = max(1, int(math.log2(s // 2)))  # top frequency = Nyquist of the training grid
    print(f"2D: {args.image} on white at {s}x{s}; train {len(x_tr)} px (every other row/column), "
          f"test {len(x_te)} px; {args.steps} steps, Adam lr {args.lr:g}, fp32, MLP {args.depth}x{args.width}; "
          f"pe {pe_octaves} octaves, gauss sigma {args.sigma2d:g} x {args.features}, "
          f"rffca base sigma {args.ca_sigma2d:g} x 2^0..2^{args.ca_octaves} (mask {args.ca_mask})")
    results = {}
    for name in args.methods or METHODS_2D:
        torch.manual_seed(args.seed)
        gen = torch.Generator().manual_seed(args.seed)
        encodings = {
            "none": lambda: IdentityEncoding(2),
            "basic": lambda: BasicEncoding(2),
            "pe": lambda: PositionalEncoding(2, pe_octaves, include_input=True),
            "gauss": lambda: GaussianFourierEncoding(2, args.features, args.sigma2d, gen),
        }
        if name in encodings:
            model = MLP(encodings[name](), 3, args.depth, args.width)
        elif name == "rffca":
            model = RFFCARegressor(rffca_net(args, 2, args.ca_sigma2d, gen), 3)
        else:
            raise SystemExit(f"error: unknown 2D method {name!r} (choose from {', '.join(METHODS_2D)})")
        losses, secs = train(model, x_tr, y_tr, args.steps, args.lr, out_act=torch.sigmoid,
                             log_every=args.log_every, name=name)
        with torch.no_grad():
            pred_te = torch.sigmoid(model(x_te))
        results[name] = dict(params=n_params(model), secs=secs, train_psnr=psnr(losses[-1]),
                             test_psnr=psnr(F.mse_loss(pred_te, y_te).item()))
        print(f"  {name}: test PSNR {results[name]['test_psnr']:.2f} dB ({secs:.0f} s)", file=sys.stderr,
              flush=True)
    print(f"{'method':8s} {'params':>8s} {'train PSNR':>11s} {'test PSNR':>10s} {'seconds':>8s}")
    for name, r in results.items():
        print(f"{name:8s} {r['params']:8d} {r['train_psnr']:11.2f} {r['test_psnr']:10.2f} {r['secs']:8.1f}")
    return results


# ---- field throughput ---------------------------------------------------------------------------

def run_bench(args) -> None:
    from nerfspec.config import FieldConfig
    from nerfspec.fields import build_field

    n = args.bench
    aabb = torch.tensor([-1.5, -1.5, -1.5, 1.5, 1.5, 1.5])
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 3, generator=g) * 3.0 - 1.5
    d = F.normalize(torch.randn(n, 3, generator=g), dim=-1)
    print(f"forward + backward of the 3D fields at {n} points, {torch.get_num_threads()} threads "
          f"(best of {args.bench_reps} after one warm-up)")
    print(f"{'field':22s} {'precision':9s} {'params':>8s} {'ms':>8s} {'samples/s':>11s}")
    for precision in ("bf16", "fp32"):
        for enc, label in (("gauss", "MLPField gauss 4x256"), ("rffca", "RFFCAField (defaults)")):
            field = build_field(FieldConfig(encoding=enc, precision=precision), aabb)
            times = []
            for _ in range(args.bench_reps + 1):
                t0 = time.perf_counter()
                sigma, rgb = field(x, d)
                (sigma.sum() + rgb.sum()).backward()
                times.append(time.perf_counter() - t0)
            best = min(times[1:])
            print(f"{label:22s} {precision:9s} {n_params(field):8d} {best * 1e3:8.1f} {n / best:11.0f}")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--image", help="run the 2D experiment on this image instead of the 1D one")
    p.add_argument("--bench", type=int, default=0, metavar="N",
                   help="time forward+backward of the 3D fields at N points and exit")
    p.add_argument("--bench-reps", type=int, default=3)
    p.add_argument("--methods", nargs="+", help=f"subset of {METHODS_1D} (1D) or {METHODS_2D} (2D)")
    p.add_argument("--steps", type=int, help="training steps (default 5000 in 1D, 2000 in 2D)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (0: torch's default); the toys are small, and one thread "
                        "avoids the stalls of two threads on a shared machine")
    p.add_argument("--log-every", type=int, default=0, help="print the loss every N steps (stderr)")
    p.add_argument("--plot", help="1D: write fits and loss curves to this PNG (needs matplotlib)")
    g1 = p.add_argument_group("1D target")
    g1.add_argument("--freq", type=float, default=20.0, help="target frequency, cycles per unit")
    g1.add_argument("--points", type=int, default=512)
    g1.add_argument("--tones", type=lambda t: [float(v) for v in t.split(",")],
                    help="comma-separated tone frequencies (cycles per unit) of a sum-of-sines target; "
                         "overrides --freq")
    g1.add_argument("--afe-at", type=lambda t: [float(v) for v in t.split(",")], default=[0.2, 0.4],
                    help="rffca_afe: training fractions of the AFE injections")
    g1.add_argument("--afe-tokens", type=int, default=2, help="rffca_afe: at most this many per injection")
    g1.add_argument("--afe-threshold", type=float, default=0.5, help="rffca_afe: lambda of the peak test")
    g2 = p.add_argument_group("2D target")
    g2.add_argument("--size", type=int, default=64, help="image resized to size x size")
    g2.add_argument("--sigma2d", type=float,
                    help="gauss sigma in 2D, cycles per unit (default 10 size / 512: Tancik et al.'s "
                         "10 for 512 px images, scaled with the training grid's Nyquist frequency)")
    g2.add_argument("--ca-sigma2d", type=float,
                    help="rffca base sigma in 2D (default sigma2d / 2, octaves up to 4 sigma2d)")
    gm = p.add_argument_group("MLPs (plain, none, basic, pe, gauss)")
    gm.add_argument("--depth", type=int, default=4)
    gm.add_argument("--width", type=int, default=256)
    gm.add_argument("--features", type=int, default=256, help="gauss: random frequencies")
    gm.add_argument("--sigma", type=float, default=10.0, help="gauss sigma in 1D, cycles per unit")
    gc = p.add_argument_group("RFF-CA")
    gc.add_argument("--ca-sigma", type=float, default=5.0, help="base sigma in 1D, cycles per unit")
    gc.add_argument("--ca-base", type=int, default=32, help="base frequencies per octave")
    gc.add_argument("--ca-octaves", type=int, default=3, help="K: octaves 0..K")
    gc.add_argument("--ca-token-dim", type=int, default=32)
    gc.add_argument("--ca-dim", type=int, default=128)
    gc.add_argument("--ca-heads", type=int, default=4)
    gc.add_argument("--ca-blocks", type=int, default=2)
    gc.add_argument("--ca-mask", default="off", choices=("scheduled", "learnable", "off"))
    gc.add_argument("--ca-release", type=float, default=0.3, help="scheduled: release fraction")
    gc.add_argument("--ca-variant", default="project", choices=("project", "note"),
                    help="project: 4-head blocks; note: the RFF-CA note's single-head d_q-wide blocks")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.bench:
        run_bench(args)
    elif args.image:
        args.steps = args.steps or 2000
        run_2d(args)
    else:
        args.steps = args.steps or 5000
        run_1d(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
