"""Training on a capture with a learned background: the frame fixed in the run, the background
trained, saved, resumed and composited onto by eval, video and compare's scoring."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import tiny_config_dict
from nerfspec.config import config_from_dict, config_to_dict
from nerfspec.data.dataset import load_split
from nerfspec.synth.generate import Photography
from nerfspec.synth import SCENES_DIR, make_scene
from nerfspec.evaluate import evaluate
from nerfspec.models import load_run
from nerfspec.render.background import eval_background
from nerfspec.render.renderer import render_image
from nerfspec.run import read_run_config
from nerfspec.train import Trainer, train


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    photo = Photography(format="nerfstudio", lens_model="opencv", distortion=(-0.12, 0.03, 0.001, -0.0005),
                        alpha=False, background="sky")
    return make_scene(SCENES_DIR / "default.toml", tmp_path_factory.mktemp("cap") / "cap", size=24,
                      views=12, progress=False, photo=photo)


pytestmark = pytest.mark.usefixtures("private_cache")


def capture_config(capture, out, model="mlp", **train):
    d = tiny_config_dict(capture, out, **train)
    d["background"] = {"model": model, "width": 16, "depth": 1, "dir_octaves": 2}
    d["data"]["scene"] = "object"  # the box, and the learned background beyond it
    d["train"]["appearance"] = "off"
    return config_from_dict(d)


def background_params(module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def test_a_step_trains_the_learned_background(capture, tmp_path):
    trainer = Trainer(capture_config(capture, tmp_path, max_steps=1), None, quiet=True)
    before = background_params(trainer.background).clone()
    assert any(g["name"] == "background" for g in trainer.optimizer.param_groups)
    trainer.train_step()
    after = background_params(trainer.background)
    assert not torch.equal(before, after)  # the photometric loss reaches it through the render


def test_run_fixes_the_frame_saves_and_resumes_the_background(capture, tmp_path):
    cfg = capture_config(capture, tmp_path, max_steps=20, checkpoint_every=10)
    assert cfg.data.transform == []
    result = train(cfg, quiet=True)
    saved = read_run_config(result.run_dir)
    assert len(saved.data.transform) == 16  # eval, render and mesh read the same frame

    run = load_run(result.run_dir, "cpu")
    assert run.background is not None and not run.background.training
    state = torch.load(result.run_dir / "checkpoints" / "ckpt_00000020.pt", weights_only=False)
    torch.testing.assert_close(background_params(run.background),
                               torch.cat([v.flatten() for v in state["background"].values()]))

    resumed = Trainer(config_from_dict({**config_to_dict(saved), "train": {
        **config_to_dict(saved)["train"], "max_steps": 21}}), result.run_dir, resume=True, quiet=True)
    assert resumed.step == 20
    torch.testing.assert_close(background_params(resumed.background), background_params(run.background))


def test_eval_renders_and_scores_on_the_learned_background(capture, tmp_path):
    result = train(capture_config(capture, tmp_path, max_steps=10, checkpoint_every=10), quiet=True)
    run = load_run(result.run_dir, "cpu")
    split = load_split(run.cfg.data, "test")
    out = render_image(run.field, run.estimator, split.cameras, 0, run.background, 256)
    origins, dirs = split.cameras[0].image_rays(0)
    with torch.no_grad():
        expected = run.background(dirs).reshape(split.height, split.width, 3)
    torch.testing.assert_close(out["background"], expected)
    # rgb = field + background (1 - opacity): the render on black plus what shows of the background
    black = render_image(run.field, run.estimator, split.cameras, 0, torch.zeros(3), 256)
    torch.testing.assert_close(out["opacity"], black["opacity"])
    assert float((1 - out["opacity"]).max()) > 0.05  # some of the background shows
    torch.testing.assert_close(out["rgb"], (black["rgb"] + expected * (1 - out["opacity"][..., None])).clamp(0, 1),
                               atol=1e-5, rtol=0)

    metrics = evaluate(run, "test", 1, tmp_path / "eval", quiet=True)
    from nerfspec.metrics import psnr

    target = split.images[0].float() / 255.0  # opaque photos: the target is the photo itself
    assert metrics["views"][0]["psnr"] == pytest.approx(psnr(out["rgb"], target[..., :3]), abs=1e-4)


def test_capture_defaults_train_unbounded_with_per_image_appearance(capture, tmp_path):
    d = tiny_config_dict(capture, tmp_path, max_steps=4, checkpoint_every=4)
    result = train(config_from_dict(d), quiet=True)
    saved = read_run_config(result.run_dir)
    assert (saved.data.scene, saved.data.normalize) == ("unbounded", "poses")
    run = load_run(result.run_dir, "cpu")
    assert run.field.unbounded and run.estimator.levels == 4 and run.appearance is not None
    assert run.appearance.offset.shape[0] == len(load_split(run.cfg.data, "train"))
    metrics = evaluate(run, "test", 4, tmp_path / "eval", quiet=True)
    assert metrics["appearance"] == "nearest training view"


def test_fixed_colour_runs_render_their_colour_as_background(tiny_scene, tmp_path):
    cfg = config_from_dict(tiny_config_dict(tiny_scene, tmp_path, max_steps=4, checkpoint_every=4))
    result = train(cfg, quiet=True)
    run = load_run(result.run_dir, "cpu")
    assert run.background is None
    split = load_split(run.cfg.data, "test")
    out = render_image(run.field, run.estimator, split.cameras, 0, torch.tensor([1.0, 0.0, 0.0]), 512)
    assert np.allclose(out["background"].numpy(), [1.0, 0.0, 0.0])


def test_eval_background_prefers_the_learned_one():
    learned = torch.nn.Identity()
    assert eval_background("black", learned) is learned
    assert torch.equal(eval_background("black"), torch.zeros(3))
    assert torch.equal(eval_background("white", None), torch.ones(3))
