"""Scalars logged to TensorBoard (RUN/tb): every tag as (step, value) series, resumed runs merged.

A run that is resumed writes a new event file and logs again from its checkpoint's step, so
an older file may hold steps that the newer one re-did (or, after a restore, never reached
again); ``merge_scalar_files`` keeps what the newest file says from its first step on.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

Point = tuple[int, float, float]  # (step, wall time in s since the epoch, value)


def event_file_order(path: Path) -> tuple[float, str]:
    """Sort key of ``events.out.tfevents.<unix time>.<host>...``: its creation time, then name."""
    m = re.match(r"events\.out\.tfevents\.(\d+(?:\.\d+)?)", path.name)
    return (float(m.group(1)) if m else math.inf, path.name)


def event_files(tb_dir: Path) -> list[Path]:
    """The event files under ``tb_dir`` (any depth), oldest first."""
    if not tb_dir.is_dir():
        return []
    return sorted((p for p in tb_dir.rglob("events.out.tfevents.*") if p.is_file()), key=event_file_order)


def read_event_file(path: Path) -> dict[str, list[Point]]:
    """{tag: [(step, wall, value), ...]} of the scalar summaries in one event file, in file order.

    A truncated last record (a run killed mid-write) ends the file quietly, as in TensorBoard.
    """
    from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader
    from tensorboard.util import tensor_util

    out: dict[str, list[Point]] = {}
    for event in LegacyEventFileLoader(str(path)).Load():
        if not event.HasField("summary"):
            continue
        for v in event.summary.value:
            if v.HasField("simple_value"):
                value = float(v.simple_value)
            elif v.HasField("tensor") and v.metadata.plugin_data.plugin_name == "scalars":
                value = float(tensor_util.make_ndarray(v.tensor).reshape(-1)[0])
            else:
                continue  # images, histograms, text
            out.setdefault(v.tag, []).append((int(event.step), float(event.wall_time), value))
    return out


def merge_scalar_files(files: list[dict[str, list[Point]]]) -> dict[str, dict[str, list]]:
    """Merge per-file scalars (oldest file first) into one series per tag, sorted by step.

    For each tag, a newer file that starts at step s replaces every older point with step >= s
    (TensorBoard's purge on restart); within one file a repeated step keeps the last value.
    Non-finite values become None (JSON has no NaN; charts show a gap)::

        {"train/loss": {"step": [10, 20], "wall": [t0, t1], "value": [0.02, None]}}
    """
    series: dict[str, dict[int, tuple[float, float]]] = {}
    for scalars in files:
        for tag, points in scalars.items():
            if not points:
                continue
            kept = series.setdefault(tag, {})
            first = min(p[0] for p in points)
            for step in [s for s in kept if s >= first]:
                del kept[step]
            for step, wall, value in points:
                kept[step] = (wall, value)
    merged = {}
    for tag in sorted(series):
        steps = sorted(series[tag])
        merged[tag] = {"step": steps, "wall": [series[tag][s][0] for s in steps],
                       "value": [finite_or_none(series[tag][s][1]) for s in steps]}
    return merged


def finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def read_scalars(tb_dir: str | Path) -> tuple[dict[str, dict[str, list]], list[str]]:
    """Every scalar tag under ``tb_dir`` merged over its event files (see ``merge_scalar_files``),
    and notes about files that could not be read."""
    files, notes = [], []
    for path in event_files(Path(tb_dir)):
        try:
            files.append(read_event_file(path))
        except Exception as exc:  # a corrupt record: keep what the other files hold
            notes.append(f"{path.name}: unreadable TensorBoard event file ({type(exc).__name__})")
    return merge_scalar_files(files), notes


def last_value(series: dict[str, list] | None) -> float | None:
    """The value at the largest step that has a finite one, or None."""
    if not series:
        return None
    return next((v for v in reversed(series["value"]) if v is not None), None)


def mean_value(series: dict[str, list] | None, last: int = 0) -> float | None:
    """Mean of the finite values (of the ``last`` points only, if > 0), or None."""
    if not series:
        return None
    values = series["value"][-last:] if last > 0 else series["value"]
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None
