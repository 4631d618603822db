"""What several commands print or check the same way."""

from __future__ import annotations

from nerfspec.errors import NerfspecError

DEVICES = ("auto", "cpu", "cuda")


def render_rate(seconds: float, unit: str) -> str:
    """'0.420 s per view, 2.38 frames/s (rendering)': a mean render time and the rate it gives."""
    return f"{seconds:.3f} s per {unit}, {1.0 / max(seconds, 1e-9):.2f} frames/s (rendering)"


def check_device(name: str) -> str:
    """``name`` if it is a device the commands take (auto, cpu or cuda), else the one-line error."""
    if name not in DEVICES:
        raise NerfspecError(f"--device must be auto, cpu or cuda, got {name!r}")
    return name
