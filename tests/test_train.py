import json

import pytest
import torch

from nerfspec.config import TrainConfig
from nerfspec.evaluate import evaluate
from nerfspec.models import load_run
from nerfspec.run import checkpoint_paths, create_run_dir
from nerfspec.train import Trainer, learning_rate, next_ray_count, run_progress, train


def test_learning_rate_schedule():
    cfg = TrainConfig(lr=1e-3, lr_final=1e-5, warmup_steps=10)
    assert learning_rate(cfg, 0, 0.0) == pytest.approx(1e-4)
    assert learning_rate(cfg, 100, 0.0) == pytest.approx(1e-3)
    assert learning_rate(cfg, 100, 0.5) == pytest.approx(1e-4)
    assert learning_rate(cfg, 100, 1.0) == pytest.approx(1e-5)


def test_progress_uses_the_tighter_budget():
    cfg = TrainConfig(max_steps=100, max_minutes=1.0)
    assert run_progress(cfg, 10, 30.0) == pytest.approx(0.5)
    assert run_progress(cfg, 80, 30.0) == pytest.approx(0.8)
    assert run_progress(TrainConfig(max_steps=100), 10, 1e6) == pytest.approx(0.1)


def test_ray_count_follows_sample_target():
    cfg = TrainConfig(rays_per_step=100, target_samples=1000, max_rays_per_step=500)
    assert next_ray_count(cfg, 100, 1000) == 100  # 10 samples per ray -> 100 rays
    assert next_ray_count(cfg, 100, 200) == 500  # capped
    assert next_ray_count(TrainConfig(rays_per_step=7), 100, 5) == 7


@pytest.fixture(scope="module")
def trained(tiny_scene, tmp_path_factory):
    """One 200-step run of the tiny config and its per-step losses, shared by the tests that
    read a finished run."""
    from nerfspec.config import config_from_dict
    from tests.conftest import tiny_config_dict

    cfg = config_from_dict(tiny_config_dict(tiny_scene, tmp_path_factory.mktemp("trained"), max_steps=200))
    losses = []
    result = train(cfg, quiet=True, on_step=lambda trainer, stats: losses.append(stats["loss"]))
    return result, losses


def test_training_halves_the_loss(trained):
    _, losses = trained
    assert len(losses) == 200
    assert sum(losses[-10:]) / 10 < 0.5 * sum(losses[:10]) / 10


def test_train_then_eval_writes_run(trained):
    result, _ = trained
    assert result.step == 200 and not result.interrupted
    run_dir = result.run_dir
    assert (run_dir / "config.toml").is_file() and checkpoint_paths(run_dir)
    assert any((run_dir / "tb").iterdir())
    run = load_run(run_dir)
    assert run.step == 200
    metrics = evaluate(run, "test", every=4, quiet=True)
    saved = json.loads((run_dir / "eval_test" / "metrics.json").read_text())
    assert saved["psnr"] == pytest.approx(metrics["psnr"])
    assert len(saved["views"]) == len(list((run_dir / "eval_test").glob("r_*.png")))
    assert metrics["psnr"] > 17.0, metrics["psnr"]  # an untrained field scores ~10 dB here
    assert 0 < metrics["ssim"] <= 1


def test_only_the_newest_two_checkpoints_are_kept(trained):
    result, _ = trained
    # checkpoint_every = 20: ten were written, the last two remain
    assert [p.name for p in checkpoint_paths(result.run_dir)] == ["ckpt_00000200.pt", "ckpt_00000180.pt"]


def test_same_seed_same_weights_and_resume_matches(tiny_config, tmp_path):
    a = train(tiny_config(max_steps=20), quiet=True)
    state_a = load_run(a.run_dir).field.state_dict()
    cfg_b = tiny_config(max_steps=20)
    cfg_b.name = "again"
    b = train(cfg_b, quiet=True)
    state_b = load_run(b.run_dir).field.state_dict()
    for k in state_a:
        torch.testing.assert_close(state_a[k], state_b[k], rtol=0, atol=0)
    # a 20-step run stopped after 12 steps, then resumed (a grid update at 16 follows): the same
    # weights as 20 straight steps
    cfg_c = tiny_config(max_steps=20)
    cfg_c.name = "resumed"
    run_dir = create_run_dir(cfg_c)
    stopped = Trainer(cfg_c, run_dir, quiet=True)
    for _ in range(12):
        stopped.train_step()
    stopped.save()
    assert train(cfg_c, resume_dir=run_dir, quiet=True).step == 20
    state_c = load_run(run_dir).field.state_dict()
    for k in state_a:
        torch.testing.assert_close(state_a[k], state_c[k], rtol=0, atol=0)


def test_existing_run_is_not_overwritten(tiny_config):
    from nerfspec.errors import NerfspecError

    cfg = tiny_config(max_steps=2)
    train(cfg, quiet=True)
    with pytest.raises(NerfspecError, match="exists"):
        train(cfg, quiet=True)
    assert train(cfg, force=True, quiet=True).step == 2


def test_optimizer_state_follows_parameters_between_group_layouts():
    """A hash-grid run's optimiser (LazyAdam tables on the CPU) loads into a dense Adam (a GPU's
    layout) and back with every moment and step count in place."""
    from nerfspec.config import config_from_dict
    from nerfspec.models import build_models
    from nerfspec.train.optim import build_optimizer

    cfg = config_from_dict({"field": {"encoding": "hashgrid", "hashgrid": {"levels": 2, "log2_table_size": 8,
                                                                          "base_resolution": 4, "max_resolution": 8}}})
    field, _ = build_models(cfg, torch.device("cpu"))
    lazy = build_optimizer(field, cfg.train, "cpu")
    assert len(lazy.parts) == 2
    for _ in range(2):
        field(torch.rand(64, 3) - 0.5, torch.nn.functional.normalize(torch.randn(64, 3), dim=-1))[1].sum().backward()
        lazy.step()
        lazy.zero_grad()
    cfg.train.lazy_tables = "off"
    dense = build_optimizer(field, cfg.train, "cpu")
    assert len(dense.parts) == 1
    dense.load_state_dict(lazy.state_dict())
    back = build_optimizer(field, config_from_dict({"field": {"encoding": "hashgrid", "hashgrid": {
        "levels": 2, "log2_table_size": 8, "base_resolution": 4, "max_resolution": 8}}}).train, "cpu")
    back.load_state_dict(dense.state_dict())
    for p in field.parameters():
        a, b = lazy.state[p], back.state[p]
        assert float(a["step"]) == float(b["step"]) == 2.0
        assert torch.equal(a["exp_avg"], b["exp_avg"]) and torch.equal(a["exp_avg_sq"], b["exp_avg_sq"])


class TrainingLog:
    """Stands in for TensorBoard's SummaryWriter: the scalars and images training logs."""

    def __init__(self):
        self.scalars: dict[str, list[tuple[int, float]]] = {}
        self.images: dict[str, list[tuple[int, object]]] = {}

    def add_scalar(self, key, value, step):
        self.scalars.setdefault(key, []).append((step, float(value)))

    def add_image(self, key, image, step, dataformats="HWC"):
        assert dataformats == "HWC"
        self.images.setdefault(key, []).append((step, image))


def test_validation_during_training_logs_psnr_of_the_render_it_shows(tiny_config):
    from skimage.metrics import peak_signal_noise_ratio

    from nerfspec.data.blender import composite
    from nerfspec.data.dataset import load_split

    cfg = tiny_config(max_steps=10, val_every=5)
    trainer = Trainer(cfg, create_run_dir(cfg), quiet=True)
    log = TrainingLog()
    trainer.fit(log)
    assert [s for s, _ in log.scalars["val/psnr"]] == [5, 10]
    assert [s for s, _ in log.images["val/render_vs_gt"]] == [5, 10]
    step, image = log.images["val/render_vs_gt"][-1]
    val = load_split(cfg.data, "val")
    h, w = val.height, val.width
    assert tuple(image.shape) == (h, 2 * w, 3)
    render, target = image[:, :w].double().numpy(), image[:, w:]
    # the right half is the first validation view on the evaluation background (white)
    white = torch.ones(3)
    torch.testing.assert_close(target, composite(val.images[0].float() / 255.0, white), atol=1e-6, rtol=0)
    expected = peak_signal_noise_ratio(target.double().numpy(), render, data_range=1.0)
    assert log.scalars["val/psnr"][-1][1] == pytest.approx(expected, abs=1e-3)
