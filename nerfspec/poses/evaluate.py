"""Scoring a run whose cameras were refined (or trained on noisy poses), BARF's protocol:

1. the refined training cameras are aligned to the reference ones (the true poses beside a
   perturbed scene, ``poses_true.json``, else the loaded ones) by the similarity that best maps
   their centres (``align.procrustes``); rotation and translation errors per camera;
2. each test camera, given in the reference frame, is moved into the field's frame by the
   inverse similarity;
3. a short test-time optimisation of each test camera's pose against its image, with the field
   frozen, absorbs what the alignment leaves (``optimise_view_pose``); views are scored with
   and without it.
"""

from __future__ import annotations

import dataclasses
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor

from nerfspec.cameras import Cameras
from nerfspec.data.blender import composite
from nerfspec.poses.align import Similarity, align_to, pose_errors
from nerfspec.poses.correction import PoseCorrections
from nerfspec.poses.files import true_poses
from nerfspec.render.renderer import Background, background_for, render_rays


@dataclasses.dataclass(frozen=True)
class PoseOptimisation:
    """Test-time pose optimisation: Adam ``steps`` at rate ``lr`` on ``rays`` random pixels
    of the view per step (BARF: 100 steps at 1e-3)."""

    steps: int = 100
    lr: float = 1e-3
    rays: int = 1024


def refined_poses(train_cameras: Cameras, corrections: PoseCorrections | None) -> Tensor:
    """(N, 4, 4) training poses as the run trained them: the loaded ones, corrected where the
    run learned corrections."""
    c2w = train_cameras.c2w.float()
    if corrections is None:
        return c2w.clone()
    with torch.no_grad():
        return corrections(c2w.to(corrections.twists.device)).cpu()


@dataclasses.dataclass
class AlignedCameras:
    """A run's training cameras in the reference frame: ``reference`` (N, 4, 4) (true or
    loaded poses), ``before`` (the loaded ones) and ``after`` (refined), each aligned to the
    reference by its own best similarity; ``to_reference`` maps the run's frame there."""

    reference: Tensor
    before: Tensor
    after: Tensor
    to_reference: Similarity
    has_truth: bool


def align_cameras(refined: Tensor, loaded: Tensor, truth: Tensor | None) -> AlignedCameras:
    """``AlignedCameras`` of a run: the reference is ``truth`` when known, else ``loaded``."""
    reference = truth.double() if truth is not None else loaded.double()
    after, sim = align_to(refined, reference)
    return AlignedCameras(reference, align_to(loaded, reference)[0], after, sim, truth is not None)


def pose_report(cameras: AlignedCameras) -> dict:
    """What metrics.json says about a run's cameras: the reference, the similarity, and with
    true poses the errors of the refined and of the loaded poses after alignment (mean and per
    camera; ``align.PoseErrors``)."""
    report = {"reference": "true poses (poses_true.json)" if cameras.has_truth else "loaded poses",
              "similarity": cameras.to_reference.to_dict()}
    if cameras.has_truth:
        errors = pose_errors(cameras.after, cameras.reference)
        report["errors"] = errors.summary()
        report["per_camera"] = {"rotation_deg": errors.rotation_deg.tolist(),
                                "translation": errors.translation.tolist()}
        report["before_refinement"] = pose_errors(cameras.before, cameras.reference).summary()
    return report


def scene_truth(data, split) -> Tensor | None:
    """True poses (N, 4, 4) of a split beside its scene (``poses_true.json``), or None."""
    return true_poses(data, split.image_paths)


def to_run_frame(cameras: Cameras, sim: Similarity) -> Cameras:
    """Cameras given in the reference frame, moved into the run's frame (``sim`` maps the run's
    frame to the reference one)."""
    return dataclasses.replace(cameras, c2w=sim.inverse().apply_to_poses(cameras.c2w.double()).float())


def with_poses(split, c2w: Tensor):
    """A copy of a loaded split (Blender or capture) whose cameras have the poses ``c2w``
    (N, 4, 4); images shared."""
    return dataclasses.replace(split, poses=c2w)


def with_view_pose(split, view: int, pose: Tensor):
    """A copy of ``split`` with view ``view``'s pose replaced by ``pose`` (4, 4)."""
    c2w = split.poses.clone()
    c2w[view] = pose.to(c2w)
    return with_poses(split, c2w)


@contextmanager
def frozen(module: torch.nn.Module):
    """Parameters of ``module`` without gradients inside the block (restored after)."""
    flags = [(p, p.requires_grad) for p in module.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def optimise_view_pose(field, estimator, cameras: Cameras, view: int, image: Tensor, background: Background,
                       settings: PoseOptimisation, centre: Tensor, seed: int = 0) -> Tensor:
    """The pose (4, 4) of ``cameras``' view ``view`` after ``settings.steps`` Adam steps on its
    correction (about ``centre``) that lower the photometric error of random pixels of
    ``image`` (H, W, 4) uint8, composited on ``background`` (a colour or a learned background,
    as the renderer takes it); the field stays frozen."""
    device = estimator.aabb.device
    one = cameras[view].to(device)
    correction = PoseCorrections(1, centre).to(device)
    optimiser = torch.optim.Adam(correction.parameters(), lr=settings.lr)
    width, height = cameras.view_size(view)
    pixels = image[:height, :width].reshape(-1, 4).to(device)
    gen = torch.Generator(device=device).manual_seed(seed)
    base = one.c2w.float()
    with frozen(field), torch.enable_grad():
        for _ in range(settings.steps):
            idx = torch.randint(width * height, (settings.rays,), generator=gen, device=device)
            posed = dataclasses.replace(one, c2w=correction(base))
            origins, dirs = posed.rays(torch.zeros_like(idx), idx % width, idx // width)
            with torch.no_grad():
                bg = background_for(background, dirs)
            out = render_rays(field, estimator, origins, dirs, bg, "separate")
            loss = F.mse_loss(out.rgb, composite(pixels[idx].float() / 255.0, bg))
            optimiser.zero_grad(set_to_none=True)
            if out.n_samples > 0:
                loss.backward()
                optimiser.step()
    with torch.no_grad():
        return correction(base)[0].cpu()


@dataclasses.dataclass
class TestPosing:
    """How a split's cameras are posed for scoring a run: ``cameras`` in the run's frame, the
    training cameras ``aligned`` to the reference and ``report`` (``pose_report``'s), the
    test-time optimisation ``settings`` and the scene ``centre`` its corrections turn about."""

    cameras: Cameras
    aligned: AlignedCameras
    report: dict
    settings: PoseOptimisation
    centre: Tensor


def test_posing(run, split_name: str, split, steps: int | None = None) -> TestPosing | None:
    """The posing of ``split`` for a run that refined its cameras or trained on a perturbed
    scene (one with ``poses_true.json``), or whenever ``steps`` is given; None for an ordinary
    run (its split is scored as loaded). ``steps``: test-time optimisation steps per view
    (default ``PoseOptimisation.steps``; the train split, already in the run's frame, gets
    none by default)."""
    from nerfspec.data.dataset import load_split

    train = split if split_name == "train" else load_split(run.cfg.data, "train")
    truth = scene_truth(run.cfg.data, train)
    if run.poses is None and truth is None and steps is None:
        return None
    refined = refined_poses(train.cameras, run.poses)
    aligned = align_cameras(refined, train.cameras.c2w, truth)
    if split_name == "train":
        cameras = dataclasses.replace(split.cameras, c2w=refined)
        steps = 0 if steps is None else steps
    else:
        cameras = to_run_frame(split.cameras, aligned.to_reference)
    settings = PoseOptimisation(steps=PoseOptimisation.steps if steps is None else steps)
    aabb = torch.tensor(run.cfg.data.aabb, dtype=torch.float32)
    return TestPosing(cameras, aligned, pose_report(aligned), settings, 0.5 * (aabb[:3] + aabb[3:]))


def summary_lines(metrics: dict) -> list[str]:
    """What ``nerfspec eval`` prints about the cameras of a run scored with ``test_posing``."""
    if "poses" not in metrics:
        return []
    poses, lines = metrics["poses"], []
    if "errors" in poses:
        e, b = poses["errors"], poses["before_refinement"]
        lines.append(f"training cameras against the {poses['reference']}, after alignment: rotation "
                     f"{e['rotation_deg']:.3f} deg (loaded {b['rotation_deg']:.3f}), translation {e['translation']:.4f} "
                     f"(loaded {b['translation']:.4f}), centres {e['centre']:.4f}")
    if "psnr_before_pose_optimisation" in metrics:
        lines.append(f"{metrics['split']} PSNR {metrics['psnr_before_pose_optimisation']:.2f} dB, SSIM "
                     f"{metrics['ssim_before_pose_optimisation']:.4f} before test-time pose optimisation "
                     f"({metrics['pose_optimisation']['steps']} steps per view)")
    return lines
