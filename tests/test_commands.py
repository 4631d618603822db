"""nerfspec.commands: what several commands print or check the same way."""

import pytest

from nerfspec.commands.common import check_device, render_rate
from nerfspec.errors import NerfspecError


def test_render_rate_gives_seconds_and_frames_per_second():
    assert render_rate(0.25, "view") == "0.250 s per view, 4.00 frames/s (rendering)"
    assert "0.50 frames/s" in render_rate(2.0, "frame")


def test_check_device_takes_auto_cpu_or_cuda():
    assert [check_device(d) for d in ("auto", "cpu", "cuda")] == ["auto", "cpu", "cuda"]
    with pytest.raises(NerfspecError, match="--device must be auto, cpu or cuda, got 'gpu'"):
        check_device("gpu")
