"""The cameras before and after refinement as a PNG: camera centres seen from above (x, y) and
from the side (x, z), each camera's viewing direction as a short stroke, in the reference frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import Tensor


def camera_plot(path: Path, reference: Tensor, before: Tensor, after: Tensor, reference_label: str) -> Path:
    """Write ``path``: ``reference`` (N, 4, 4) poses as black dots, ``before`` (the loaded ones)
    in red and ``after`` (refined) in blue, both aligned to the reference; thin lines join each
    camera's reference and refined centres."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ref, bef, aft = (p.detach().double().cpu().numpy() for p in (reference, before, after))
    radius = float(np.linalg.norm(ref[:, :3, 3], axis=1).mean())
    stroke = 0.08 * radius
    fig, axes = plt.subplots(1, 2, figsize=(10, 5), dpi=110)
    for ax, (a, b, name) in zip(axes, ((0, 1, "from above (x, y)"), (0, 2, "from the side (x, z)"))):
        for poses, colour, label, marker in ((ref, "black", reference_label, "o"), (bef, "tab:red", "loaded", "x"),
                                             (aft, "tab:blue", "refined", "o")):
            c = poses[:, :3, 3]
            look = -poses[:, :3, 2]
            ax.scatter(c[:, a], c[:, b], s=10 if marker == "o" else 14, c=colour, marker=marker, label=label,
                       alpha=0.8, linewidths=1)
            ends = c + stroke * look
            ax.plot(np.stack([c[:, a], ends[:, a]]), np.stack([c[:, b], ends[:, b]]), color=colour, lw=0.6, alpha=0.6)
        ax.plot(np.stack([ref[:, a, 3], aft[:, a, 3]]),
                np.stack([ref[:, b, 3], aft[:, b, 3]]), color="grey", lw=0.5)
        ax.set_aspect("equal")
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="upper right")
    fig.suptitle("training cameras, aligned to the reference by a similarity", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
