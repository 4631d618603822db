"""nerfspec.train.faults: non-finite steps skipped and counted, persistent faults restored from the
checkpoint with a halved learning rate and then stopped, and a diverging run's one-line error."""

import math

import pytest
import torch

from nerfspec.cli import main
from nerfspec.config import config_from_dict
from nerfspec.errors import DivergedError
from nerfspec.run import create_run_dir
from nerfspec.train import Trainer, learning_rate, run_progress
from tests.test_run import FIELDS, assert_same_weights, fast_dict, write_config

def poison(trainer: Trainer, bad_steps: set[int] | None, where: str = "loss") -> None:
    """Make the field's colour NaN (``loss``) or its gradient NaN (``grad``) on the given steps
    (all steps if None)."""
    forward = trainer.field.forward

    def faulty(x, d=None):
        sigma, rgb = forward(x, d)
        if bad_steps is None or trainer.step in bad_steps:
            if where == "loss":
                rgb = rgb * float("nan")
            else:
                rgb = rgb + 0.0
                rgb.register_hook(lambda g: g * float("inf"))
        return sigma, rgb

    trainer.field.forward = faulty


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("where", ["loss", "grad"])
def test_non_finite_step_is_skipped_and_counted(tiny_scene, tmp_path, where, field):
    cfg = config_from_dict(FIELDS[field](tiny_scene, tmp_path / "out", max_steps=20))
    trainer = Trainer(cfg, None, quiet=True)
    if field == "hashgrid":  # the tables are LazyAdam's, the networks Adam's
        from nerfspec.train.optim import LazyAdam

        assert any(isinstance(part, LazyAdam) for part in trainer.optimizer.parts)
    poison(trainer, {2, 3}, where)
    for _ in range(2):
        trainer.train_step()
    before = {k: v.clone() for k, v in trainer.field.state_dict().items()}
    adam_steps = [int(s["step"]) for s in trainer.optimizer.state.values()]
    stats = [trainer.train_step() for _ in range(2)]
    assert [s["skipped"] for s in stats] == [1, 1] and stats[-1]["skipped_steps"] == 2
    assert_same_weights(before, trainer.field.state_dict())  # no optimiser step
    assert [int(s["step"]) for s in trainer.optimizer.state.values()] == adam_steps
    stats = trainer.train_step()
    assert stats["skipped"] == 0 and trainer.skipped_steps == 2 and trainer.bad_streak == 0
    assert all(torch.isfinite(p).all() for p in trainer.field.parameters())


def test_persistent_faults_restore_checkpoint_halve_lr_then_stop(tiny_scene, tmp_path, capsys):
    values = fast_dict(tiny_scene, tmp_path / "out", max_steps=1000, checkpoint_every=4,
                       max_bad_steps=3, max_restores=2)
    cfg = config_from_dict(values)
    trainer = Trainer(cfg, create_run_dir(cfg), quiet=True)
    for _ in range(4):
        trainer.train_step()
    trainer.save()
    good = {k: v.clone() for k, v in trainer.field.state_dict().items()}
    poison(trainer, None)
    for _ in range(3):
        trainer.train_step()
    assert trainer.restores == 1 and trainer.lr_scale == 0.5 and trainer.step == 4
    assert_same_weights(good, trainer.field.state_dict())
    assert "restored step 4 from ckpt_00000004.pt and halved the learning rate" in capsys.readouterr().err
    # the scale is saved with the run and comes back on resume
    trainer.save()
    resumed = Trainer(cfg, trainer.run_dir, resume=True, quiet=True)
    assert resumed.lr_scale == 0.5 and resumed.restores == 1 and resumed.skipped_steps == 3
    full = learning_rate(cfg.train, 4, run_progress(cfg.train, 4, resumed.elapsed_s))
    assert resumed.train_step()["lr"] == pytest.approx(0.5 * full, rel=1e-12)
    for _ in range(3):
        trainer.train_step()
    assert trainer.restores == 2 and trainer.lr_scale == 0.25
    with pytest.raises(DivergedError) as info:
        for _ in range(3):
            trainer.train_step()
    msg = str(info.value)
    assert "\n" not in msg and "train.max_restores = 2" in msg and "ckpt_00000004.pt" in msg


def test_faults_before_any_checkpoint_restore_the_starting_state(tiny_scene, tmp_path):
    cfg = config_from_dict(fast_dict(tiny_scene, tmp_path / "out", max_bad_steps=2))
    trainer = Trainer(cfg, None, quiet=True)
    start = {k: v.clone() for k, v in trainer.field.state_dict().items()}
    lr_clean = trainer.train_step()["lr"]
    poison(trainer, {1, 2})
    trainer.train_step(), trainer.train_step()
    assert trainer.restores == 1 and trainer.step == 0
    assert_same_weights(start, trainer.field.state_dict())
    assert trainer.train_step()["lr"] == pytest.approx(0.5 * lr_clean)


class ScalarLog:
    """Stands in for a TensorBoard SummaryWriter."""

    def __init__(self):
        self.scalars: dict[str, list[tuple[int, float]]] = {}

    def add_scalar(self, key, value, step):
        self.scalars.setdefault(key, []).append((step, float(value)))


def test_skipped_steps_are_logged_to_tensorboard(tiny_scene, tmp_path):
    cfg = config_from_dict(fast_dict(tiny_scene, tmp_path / "out", max_steps=6, log_every=3))
    trainer = Trainer(cfg, create_run_dir(cfg), quiet=True)
    poison(trainer, {1, 3, 4})
    log = ScalarLog()
    result = trainer.fit(log)
    assert result.skipped_steps == 3
    assert log.scalars["train/skipped_steps"] == [(3, 1), (6, 3)]
    # the logged loss averages the good steps only
    assert all(math.isfinite(v) for _, v in log.scalars["train/loss"])


def test_diverging_run_through_the_cli_is_one_line_exit_2(tiny_scene, tmp_path, capsys, monkeypatch):
    from nerfspec.fields.base import RadianceField

    forward = RadianceField.forward

    def nan_forward(self, x, d=None):
        sigma, rgb = forward(self, x, d)
        return sigma, rgb * float("nan")

    monkeypatch.setattr(RadianceField, "forward", nan_forward)
    cfg = write_config(tmp_path / "c.toml", fast_dict(tiny_scene, tmp_path / "out", max_steps=50,
                                                      max_bad_steps=2, max_restores=1))
    assert main(["train", str(cfg)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: training diverged: 2 steps in a row") and "train.max_restores = 1" in err[-1]
    assert "warning: 2 steps in a row with a non-finite loss or gradient at step 2; restored step 0 from " \
           "the starting state" in "\n".join(err[:-1])
