"""Camera pose refinement while training (``train.refine_poses``): the training cameras'
learned corrections (nerfspec/poses/correction.py), their own learning-rate schedule, what is
logged about them and ``RUN/poses.json``.

The corrections are one Adam group ("poses") of the trainer's optimiser, so they are saved,
restored and skipped on non-finite steps with everything else; only their rate follows their
own schedule, ``train.pose_lr`` decaying exponentially to ``train.pose_lr_final`` (BARF's).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import Tensor

from nerfspec.config import TrainConfig
from nerfspec.poses.align import align_to, pose_errors
from nerfspec.poses.correction import PoseCorrections
from nerfspec.poses.files import poses_document, true_poses
from nerfspec.run import atomic_write_bytes

POSES_NAME = "poses.json"


def pose_learning_rate(cfg: TrainConfig, progress: float) -> float:
    """pose_lr (pose_lr_final / pose_lr)^p min(1, p / pose_warmup), p in [0, 1] the share of the
    run's budget spent: an exponential decay after a linear warm-up (none when pose_warmup is 0)."""
    p = min(max(progress, 0.0), 1.0)
    warm = min(1.0, p / cfg.pose_warmup) if cfg.pose_warmup > 0 else 1.0
    return cfg.pose_lr * (cfg.pose_lr_final / cfg.pose_lr) ** p * warm


def scene_centre(aabb: list[float]) -> Tensor:
    """(3,) centre of the scene box [xmin, ymin, zmin, xmax, ymax, zmax]."""
    box = torch.tensor(aabb, dtype=torch.float32)
    return 0.5 * (box[:3] + box[3:])


class PoseRefinement:
    """The corrections of a split's cameras, on the training device, and the true poses beside
    the scene (``poses_true.json``, when it was made by ``nerfspec perturb``) to score them."""

    def __init__(self, split, data, device: torch.device, frame: str = "scene"):
        self.split, self.data = split, data
        self.corrections = PoseCorrections(len(split), scene_centre(data.aabb), frame).to(device)
        self.truth = true_poses(data, split.image_paths)

    def param_group(self) -> dict:
        return {"name": "poses", "params": list(self.corrections.parameters())}

    def poses(self, c2w: Tensor) -> Tensor:
        """The corrected camera-to-world poses (N, 4, 4) of the loaded ``c2w``, with gradients."""
        return self.corrections(c2w)

    @torch.no_grad()
    def refined(self) -> Tensor:
        """(N, 4, 4) corrected poses on the CPU."""
        return self.corrections(self.split.cameras.c2w.to(self.corrections.twists.device)).cpu()

    @torch.no_grad()
    def scalars(self) -> dict[str, float]:
        """poses/correction_deg and poses/correction_translation (mean sizes of the corrections)
        and, with true poses, the errors after alignment (``nerfspec.poses.align``)."""
        twists = self.corrections.twists.detach().double().cpu()
        out = {"poses/correction_deg": float(torch.rad2deg(twists[:, :3].norm(dim=-1)).mean()),
               "poses/correction_translation": float(twists[:, 3:].norm(dim=-1).mean())}
        if self.truth is not None:
            errors = pose_errors(align_to(self.refined(), self.truth)[0], self.truth).summary()
            out.update({"poses/rotation_error_deg": errors["rotation_deg"],
                        "poses/translation_error": errors["translation"],
                        "poses/centre_error": errors["centre"]})
        return out

    def write(self, run_dir: Path) -> Path:
        """``RUN/poses.json``: the refined training cameras in the dataset's own frame."""
        doc = poses_document(self.data, self.split.image_paths, self.refined(), self.corrections.twists,
                             getattr(self.split, "camera_angle_x", None))
        path = Path(run_dir) / POSES_NAME
        atomic_write_bytes(path, json.dumps(doc, indent=1).encode())
        return path
