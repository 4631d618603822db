"""The one precision policy: which computations may run in bfloat16 and which stay float32.

``field.precision`` (auto | bf16 | fp32) resolves per device: ``auto`` is bf16 on CUDA devices
that support it and on CPUs with bf16 matrix units (AMX or AVX-512 BF16), float32 elsewhere
(PyTorch emulates bf16 on other CPUs, far slower than float32).

Under bf16 only the networks' matrix products run in bf16, inside ``network_autocast``:
the MLP trunk, the density and colour heads, the attention projections. Everything else is
float32 whatever the setting, because it either needs the digits or costs nothing:

- positions normalised to the box and every input encoding (Fourier features, positional
  encoding of positions and of view directions, hash-grid interpolation): 2 pi b . v reaches
  hundreds of radians, where bf16 keeps no digit of the phase;
- the attention softmax and its weighted sums (``float32_region`` inside the networks);
- the density activation, the colour sigmoid, volume rendering (per-ray sums in float64),
  the loss, gradients' norms, the optimiser state and the occupancy grid.
"""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor

from nerfspec.cpu import cpu_has_bf16

PRECISIONS = ("auto", "bf16", "fp32")


def resolve_precision(precision: str, device: torch.device | str) -> str:
    """``auto`` -> ``bf16`` on CUDA devices that support it and on CPUs with bf16 units, else
    ``fp32``; ``bf16`` and ``fp32`` stay as they are."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision != "auto":
        return precision
    device = torch.device(device)
    if device.type == "cuda":
        # emulated bf16 (T4, V100) is slower than float32
        return "bf16" if torch.cuda.is_bf16_supported(including_emulation=False) else "fp32"
    return "bf16" if cpu_has_bf16() else "fp32"


def network_autocast(ref: Tensor, precision: str):
    """Context for the networks' matrix products: bf16 autocast on ``ref``'s device when
    ``precision`` resolves to bf16 there, else nothing (float32)."""
    if resolve_precision(precision, ref.device) == "bf16":
        return torch.autocast(device_type=ref.device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def float32_region(ref: Tensor):
    """Context that turns autocast off on ``ref``'s device: code inside runs in the dtype of
    its inputs (cast them with ``.float()``), even when called from a network's bf16 region."""
    return torch.autocast(device_type=ref.device.type, enabled=False)
