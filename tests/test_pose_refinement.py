"""Camera pose refinement end to end on generated scenes with known poses: corrected rays,
perturbed scenes, refinement runs, resume, evaluation, poses.json and the perturb command."""

import json
import math

import numpy as np
import pytest
import torch

from nerfspec.config import DataConfig, config_from_dict
from nerfspec.data.dataset import load_split
from nerfspec.models import load_run
from nerfspec.poses.align import align_to, pose_errors
from nerfspec.poses.correction import PoseCorrections
from nerfspec.poses.evaluate import PoseOptimisation, optimise_view_pose
from nerfspec.poses.files import TRUTH_NAME, true_poses
from nerfspec.poses.perturb import Noise, perturb_scene
from nerfspec.run import create_run_dir
from nerfspec.train import Trainer, train
from nerfspec.train.batching import RayBatcher
from nerfspec.train.optim import set_learning_rates
from nerfspec.train.poses import pose_learning_rate
from tests.conftest import run_cli, tiny_config_dict


def hashgrid_dict(scene, out, **train_kw) -> dict:
    """A small hash-grid run on ``scene`` (fast on the CPU)."""
    values = tiny_config_dict(scene, out, **{"lr": 1e-2, "lr_final": 1e-3, "rays_per_step": 512, **train_kw})
    values["field"] = {"encoding": "hashgrid", "precision": "fp32",
                       "hashgrid": {"levels": 6, "log2_table_size": 12, "base_resolution": 8, "max_resolution": 96,
                                    "density_width": 32, "colour_width": 32, "colour_layers": 1}}
    values["sampler"] = {"grid_resolution": 32, "render_step_size": 0.02, "update_every": 8, "update_cells": 8192}
    return values


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """The default scene at 48x48, 30 training views."""
    from nerfspec.synth import make_tiny_scene

    return make_tiny_scene(tmp_path_factory.mktemp("pose_scene") / "default", size=48, views=30)


@pytest.fixture(scope="module")
def noisy(scene, tmp_path_factory):
    """The scene with its training cameras each turned 2 degrees and moved 0.04 about the centre."""
    out = tmp_path_factory.mktemp("pose_noisy") / "noisy"
    perturb_scene(scene, out, Noise(rotation_deg=2.0, translation=0.04, seed=1))
    return out


def scene_errors(root, corrections=None):
    """Mean rotation (deg) and translation errors of a scene's (corrected) training cameras
    against its true poses, after alignment."""
    split = load_split(DataConfig(root=str(root)), "train")
    truth = true_poses(DataConfig(root=str(root)), split.image_paths)
    c2w = split.cameras.c2w if corrections is None else corrections(split.cameras.c2w).detach()
    return pose_errors(align_to(c2w, truth)[0], truth).summary()


# -- rays, noise and files -------------------------------------------------------------------------

def test_zero_correction_reproduces_the_unrefined_rays(scene):
    split = load_split(DataConfig(root=str(scene)), "train")
    batcher = RayBatcher(split, torch.device("cpu"))
    plain = batcher.sample_with_views(700, torch.Generator().manual_seed(3))
    corrections = PoseCorrections(len(split), torch.tensor([0.2, -0.1, 0.3]))
    refined = batcher.sample_with_views(700, torch.Generator().manual_seed(3), corrections(batcher.cameras.c2w))
    for a, b in zip(plain, refined):
        assert torch.equal(a, b)
    assert refined[0].requires_grad  # the rays carry the corrections' gradients


def test_perturbed_scene_keeps_the_true_poses_beside_it(scene, noisy):
    truth = true_poses(DataConfig(root=str(noisy)), load_split(DataConfig(root=str(noisy)), "train").image_paths)
    original = load_split(DataConfig(root=str(scene)), "train").poses.double()
    torch.testing.assert_close(truth, original, rtol=0, atol=1e-6)
    before = scene_errors(noisy)
    assert before["rotation_deg"] == pytest.approx(2.0, abs=0.3) and before["centre"] > 0.03
    for split in ("val", "test"):  # only the training poses carry noise
        a = load_split(DataConfig(root=str(scene)), split)
        b = load_split(DataConfig(root=str(noisy)), split)
        assert torch.equal(a.poses, b.poses) and torch.equal(a.images, b.images)
    assert torch.equal(load_split(DataConfig(root=str(scene)), "train").images,
                       load_split(DataConfig(root=str(noisy)), "train").images)


def test_perturb_command_is_seeded_and_refuses_to_overwrite(scene, tmp_path):
    a = run_cli("perturb", scene, tmp_path / "a", "--seed", "5")
    b = run_cli("perturb", scene, tmp_path / "b", "--seed", "5")
    c = run_cli("perturb", scene, tmp_path / "c", "--seed", "6")
    assert a.returncode == b.returncode == c.returncode == 0, a.stderr
    assert "se(3) noise sigma 0.15" in a.stdout and "poses_true.json" in a.stdout
    read = lambda d: json.loads((tmp_path / d / "transforms_train.json").read_text())  # noqa: E731
    assert read("a") == read("b") and read("a") != read("c")
    again = run_cli("perturb", scene, tmp_path / "a")
    assert again.returncode == 2 and again.stderr.startswith("error: ") and "--force" in again.stderr
    assert run_cli("perturb", scene, tmp_path / "a", "--force").returncode == 0
    bad = run_cli("perturb", scene, tmp_path / "d", "--sigma", "-1")
    assert bad.returncode == 2 and "--sigma" in bad.stderr


def test_pose_rate_has_its_own_schedule():
    from nerfspec.config import TrainConfig

    cfg = TrainConfig(pose_lr=1e-3, pose_lr_final=1e-5)
    assert pose_learning_rate(cfg, 0.0) == pytest.approx(1e-3)
    assert pose_learning_rate(cfg, 0.5) == pytest.approx(1e-4)
    assert pose_learning_rate(cfg, 1.0) == pytest.approx(1e-5)
    warm = TrainConfig(pose_lr=1e-3, pose_lr_final=1e-5, pose_warmup=0.1)
    assert pose_learning_rate(warm, 0.0) == 0.0
    assert pose_learning_rate(warm, 0.05) == pytest.approx(0.5 * 1e-3 * 0.01 ** 0.05)
    assert pose_learning_rate(warm, 0.5) == pytest.approx(1e-4)
    p, q = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([{"params": [p], "name": "network", "base_lr": 1e-2},
                            {"params": [q], "name": "poses", "base_lr": 1e-3}])
    set_learning_rates(opt, 0.5, {"poses": 7e-4})
    assert [g["lr"] for g in opt.param_groups] == [5e-3, 7e-4]


# -- refinement runs -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def refined(noisy, tmp_path_factory):
    """A 400-step refinement run on the perturbed scene."""
    values = hashgrid_dict(noisy, tmp_path_factory.mktemp("refined"), max_steps=400, refine_poses=True,
                           pose_lr=3e-3, pose_lr_final=3e-4, checkpoint_every=200)
    values["field"]["c2f"] = [0.0, 0.5]
    return train(config_from_dict(values), quiet=True)


def test_refinement_recovers_a_known_perturbation(noisy, refined):
    """Bound: 400 steps on this 48x48 scene cut the mean rotation error (2 degrees at the
    start; 1.58 measured after) by at least 15% and the translation error by at least 10%.
    Most of the registration happens later in a run: this is a short one."""
    run = load_run(refined.run_dir, "cpu")
    before, after = scene_errors(noisy), scene_errors(noisy, run.poses)
    assert after["rotation_deg"] < 0.85 * before["rotation_deg"], (before, after)
    assert after["translation"] < 0.9 * before["translation"], (before, after)


def test_poses_json_holds_the_refined_cameras_in_the_datasets_frame(noisy, refined):
    run = load_run(refined.run_dir, "cpu")
    doc = json.loads((refined.run_dir / "poses.json").read_text())
    split = load_split(run.cfg.data, "train")
    assert len(doc["frames"]) == len(split) and doc["frames"][0]["file_path"] == "train/r_0.png"
    saved = torch.tensor([f["transform_matrix"] for f in doc["frames"]], dtype=torch.float64)
    torch.testing.assert_close(saved, run.poses(split.cameras.c2w).detach().double(), rtol=0, atol=1e-6)
    twists = torch.tensor([f["correction"] for f in doc["frames"]])
    torch.testing.assert_close(twists, run.poses.twists.detach())


def test_resume_reproduces_the_corrections_bit_for_bit(noisy, tmp_path):
    """A 30-step refinement run stopped after 13 steps and resumed: the same corrections (and
    field) as 30 straight steps."""
    values = hashgrid_dict(noisy, tmp_path / "out", max_steps=30, refine_poses=True)
    straight = train(config_from_dict({**values, "name": "straight"}), quiet=True)
    cfg = config_from_dict({**values, "name": "resumed"})
    run_dir = create_run_dir(cfg)
    stopped = Trainer(cfg, run_dir, quiet=True)
    for _ in range(13):
        stopped.train_step()
    stopped.save()
    resumed = train(cfg, resume_dir=run_dir, quiet=True)
    assert resumed.step == 30
    a, b = load_run(straight.run_dir, "cpu"), load_run(resumed.run_dir, "cpu")
    assert torch.equal(a.poses.twists, b.poses.twists) and a.poses.twists.abs().sum() > 0
    for (name, x), (_, y) in zip(a.field.state_dict().items(), b.field.state_dict().items()):
        assert torch.equal(x, y), name


@pytest.mark.xfail(strict=True, reason="at 48x48 the optimisation trades the turn for a sideways step "
                   "of the camera (1.5 -> 1.48 degrees measured): the rotation alone is the wrong measure here")
def test_test_time_pose_optimisation_recovers_a_turned_camera(scene, refined):
    """With the field frozen, 100 steps bring a test camera turned 1.5 degrees back to within
    0.5 degrees (the field was trained on this scene's perturbed copy, refined; its frame is
    the true one up to the alignment, which we remove by aligning the field's test camera)."""
    from nerfspec.poses.evaluate import test_posing

    run = load_run(refined.run_dir, "cpu")
    test = load_split(DataConfig(root=str(scene)), "test")
    posing = test_posing(run, "test", test)
    start = posing.cameras.c2w[0].double()
    turn = torch.eye(4, dtype=torch.float64)
    from nerfspec.poses.lie import so3_exp

    turn[:3, :3] = so3_exp(torch.tensor([0.0, math.radians(1.5), 0.0], dtype=torch.float64))
    moved = posing.cameras.c2w.clone()
    moved[0] = (start @ turn).float()
    cams = type(posing.cameras)(**{**posing.cameras.__dict__, "c2w": moved})
    found = optimise_view_pose(run.field, run.estimator, cams, 0, test.image(0), torch.ones(3),
                               PoseOptimisation(steps=100, lr=2e-3, rays=512), posing.centre)
    from nerfspec.poses.lie import rotation_angle

    before = math.degrees(rotation_angle(moved[0, :3, :3].double(), start[:3, :3]).item())
    after = math.degrees(rotation_angle(found[:3, :3].double(), start[:3, :3]).item())
    assert before == pytest.approx(1.5, abs=1e-3) and after < 0.5, after


def test_eval_of_a_refined_run_reports_cameras_and_both_psnrs(refined):
    result = run_cli("eval", refined.run_dir, "--every", "5", "--pose-steps", "20")
    assert result.returncode == 0, result.stderr
    metrics = json.loads((refined.run_dir / "eval_test" / "metrics.json").read_text())
    poses = metrics["poses"]
    assert poses["reference"].startswith("true poses")
    assert poses["errors"]["rotation_deg"] < poses["before_refinement"]["rotation_deg"]
    assert len(poses["per_camera"]["rotation_deg"]) == 30
    assert metrics["pose_optimisation"]["steps"] == 20
    assert "psnr_before_pose_optimisation" in metrics and "psnr_before_pose_optimisation" in metrics["views"][0]
    assert (refined.run_dir / "eval_test" / "cameras.png").is_file()
    assert "rotation" in result.stdout and "before test-time pose optimisation" in result.stdout


def test_interpolated_path_follows_the_refined_cameras(refined, monkeypatch):
    from nerfspec.export import video

    run = load_run(refined.run_dir, "cpu")
    seen = {}
    real = video.camera_path

    def spy(kind, frames, radius, elevation, test_poses, centre, train_poses, smoothing):
        seen["train"] = train_poses
        return real(kind, frames, radius, elevation, test_poses, centre, train_poses, smoothing)[:1]

    monkeypatch.setattr(video, "camera_path", spy)
    video.render_video(run, run.cfg.data, path="interpolate", frames=4, resolution=(16, 16), quiet=True,
                       out_dir=refined.run_dir / "video_test")
    split = load_split(run.cfg.data, "train")
    torch.testing.assert_close(seen["train"], run.poses(split.cameras.c2w).detach())
    assert not torch.allclose(seen["train"], split.cameras.c2w)


def test_a_capture_s_poses_json_is_in_the_file_s_frame(tmp_path):
    """A capture is normalised into nerfspec's scene frame; poses.json maps back to the file's."""
    from nerfspec.poses.files import poses_document
    from nerfspec.synth.generate import Photography
    from nerfspec.synth import make_scene
    from nerfspec.synth.scene_files import scene_file
    from nerfspec.data.dataset import resolve_data

    capture = make_scene(scene_file("default"), tmp_path / "cap", size=16, views=12, progress=False,
                         photo=Photography(format="nerfstudio"))
    cfg = resolve_data(config_from_dict({"data": {"root": str(capture), "normalize": "poses",
                                                  "camera_distance": 2.0}}))
    split = load_split(cfg.data, "train")
    doc = poses_document(cfg.data, split.image_paths, split.cameras.c2w, torch.zeros(len(split), 6))
    meta = json.loads((capture / "transforms.json").read_text())
    in_file = {f["file_path"].lstrip("./"): np.asarray(f["transform_matrix"]) for f in meta["frames"]}
    for frame in doc["frames"]:
        np.testing.assert_allclose(np.asarray(frame["transform_matrix"]), in_file[frame["file_path"]], atol=1e-5)
