"""One grid state on every device: nerfacc's layout round-trips, nerfacc's warm-up update rule
gives the same grid as ours, and a run moves between checkpoint layouts unchanged."""

import pytest
import torch

from nerfspec.config import SamplerConfig
from nerfspec.models import load_run
from nerfspec.render.background import background_colour
from nerfspec.render.grid import OccupancyGrid, state_from_nerfacc, state_to_nerfacc
from nerfspec.render.renderer import render_image
from nerfspec.run import checkpoint_paths, read_checkpoint, save_checkpoint

nerfacc = pytest.importorskip("nerfacc")

AABB = torch.tensor([-1.0, -1, -1, 1, 1, 1])


def sphere(x):
    return torch.where(x.norm(dim=-1) < 0.5, 50.0, 0.0)


def partly_updated_grid() -> OccupancyGrid:
    """A grid with carved cells, evaluated cells and cells not evaluated yet."""
    grid = OccupancyGrid(AABB, SamplerConfig(grid_resolution=16, update_every=1, update_cells=1024))
    carved = torch.zeros(16 ** 3, dtype=torch.bool)
    carved[::7] = True
    grid.carve(carved)
    for step in range(2):
        grid.update(step, sphere, torch.Generator().manual_seed(step))
    assert (grid.occs < 0).any() and (grid.occs > 0).any() and grid.carved.any()
    return grid


def test_grid_state_round_trips_through_nerfaccs_estimator():
    grid = partly_updated_grid()
    theirs = nerfacc.OccGridEstimator(roi_aabb=AABB.tolist(), resolution=16, levels=1)
    theirs.load_state_dict(state_to_nerfacc(grid.state_dict()))
    back = OccupancyGrid(AABB, grid.cfg)
    back.load_state_dict(state_from_nerfacc(theirs.state_dict()))
    for key, value in grid.state_dict().items():
        assert torch.equal(value, back.state_dict()[key]), key
    # nerfacc re-derives occupancy from the occs it was given by its own rule (an update that
    # changes no occ: ema_decay 1, zero new occupancy, every cell it may visit): the cells it
    # can see are occupied exactly where ours are
    theirs._update(step=0, occ_eval_fn=lambda x: torch.zeros(len(x), 1), occ_thre=grid.cfg.occ_threshold,
                   ema_decay=1.0, warmup_steps=1)
    seen = theirs.occs >= 0
    assert seen.sum() > 1000 and (~seen).any()
    assert torch.equal(theirs.binaries.reshape(-1)[seen], grid.binary[seen])
    assert grid.binary[seen].any() and not grid.binary[seen].all()


def test_warmup_grid_is_identical_under_nerfaccs_update_rule():
    cfg = SamplerConfig(grid_resolution=16, warmup_steps=5, occ_threshold=0.01, occ_ema_decay=0.95, update_every=1,
                        render_step_size=0.02, carve=False)
    ours = OccupancyGrid(AABB, cfg)
    theirs = nerfacc.OccGridEstimator(roi_aabb=AABB.tolist(), resolution=16, levels=1)

    def density(x):  # smooth, so every jittered point matters
        return 40.0 * torch.exp(-8.0 * (x.norm(dim=-1) - 0.5) ** 2)

    for step in range(3):  # warm-up: every cell at every update, from the same random jitter
        torch.manual_seed(step)
        theirs._update(step=step, occ_eval_fn=lambda x: density(x)[:, None] * cfg.render_step_size,
                       occ_thre=cfg.occ_threshold, ema_decay=cfg.occ_ema_decay, warmup_steps=cfg.warmup_steps)
        torch.manual_seed(step)
        ours.update(step, density)
        assert torch.equal(ours.occs, theirs.occs)
        assert torch.equal(ours.binary, theirs.binaries.reshape(-1))
    assert 0.05 < ours.binary.float().mean() < 0.95


def test_run_renders_identically_after_a_round_trip_through_nerfaccs_checkpoint_layout(tiny_config):
    from nerfspec.train import Trainer, train

    cfg = tiny_config(max_steps=30)
    result = train(cfg, quiet=True)
    run = load_run(result.run_dir, "cpu")
    bg = background_colour("white")
    from nerfspec.data.blender import load_blender_split

    cams = load_blender_split(cfg.data.root, "test").cameras
    before = render_image(run.field, run.estimator, cams, 0, bg)

    # rewrite the checkpoint with the grid in nerfacc's layout, as a CUDA run of an earlier
    # version saved it (nerfacc's buffers under "grid.", the carved mask beside them)
    path = checkpoint_paths(result.run_dir)[0]
    state = read_checkpoint(path)
    theirs = nerfacc.OccGridEstimator(roi_aabb=cfg.data.aabb, resolution=cfg.sampler.grid_resolution, levels=1)
    theirs.load_state_dict(state_to_nerfacc(state["estimator"]))
    legacy = {f"grid.{k}": v for k, v in theirs.state_dict().items()}
    legacy.update(aabb=state["estimator"]["aabb"], carved=state["estimator"]["carved"])
    state["estimator"] = legacy
    for old in checkpoint_paths(result.run_dir):
        old.unlink()
    save_checkpoint(result.run_dir, state, state["step"])

    moved = load_run(result.run_dir, "cpu")
    after = render_image(moved.field, moved.estimator, cams, 0, bg)
    for key in before:
        assert torch.equal(before[key], after[key]), key
    for key, value in run.estimator.state_dict().items():
        assert torch.equal(value, moved.estimator.state_dict()[key]), key
    # and training resumes from it
    resumed = Trainer(cfg, result.run_dir, resume=True, quiet=True)
    assert resumed.step == 30 and torch.equal(resumed.estimator.binary, run.estimator.binary)
    resumed.train_step()


def test_run_info_records_what_resolved(tiny_config):
    import json

    from nerfspec.train import train

    result = train(tiny_config(max_steps=5), quiet=True)
    info = json.loads((result.run_dir / "run_info.json").read_text())
    assert info["device"] == "cpu" and info["kernels"] == "torch" and info["step"] == 5
    assert info["precision"] in ("bf16", "fp32") and info["parameters"] > 0
    assert info["dataset"]["train_views"] == 20 and info["dataset"]["width"] == 32
    # files the project writes get the usual mode of new files, not a temporary file's 0600
    mode = (result.run_dir / "config.toml").stat().st_mode & 0o777
    assert mode == (result.run_dir / "run_info.json").stat().st_mode & 0o777 and mode & 0o044


def test_device_option_moves_a_checkpoint_and_says_so(tiny_config, capsys):
    """A run trained on another device (its checkpoint says cuda) loads on the CPU with a note,
    renders the same as before; asking for CUDA where there is none is one error."""
    from nerfspec.cli import main
    from nerfspec.errors import NerfspecError
    from nerfspec.train import train

    run_dir = train(tiny_config(max_steps=4, checkpoint_every=4), quiet=True).run_dir
    here = load_run(run_dir, "cpu")
    newest = checkpoint_paths(run_dir)[0]
    state = read_checkpoint(newest)
    assert state["device"] == "cpu"
    state["device"] = "cuda"
    save_checkpoint(run_dir, state, state["step"])
    capsys.readouterr()
    moved = load_run(run_dir, "cpu")
    assert f"note: {run_dir.name} was trained on cuda; loaded on cpu" in capsys.readouterr().err
    assert all(p.device.type == "cpu" for p in moved.field.parameters())
    bg = background_colour("white")
    torch.testing.assert_close(render_image(moved.field, moved.estimator, moved_cams(moved), 0, bg, 4096)["rgb"],
                               render_image(here.field, here.estimator, moved_cams(here), 0, bg, 4096)["rgb"],
                               rtol=0, atol=0)
    if not torch.cuda.is_available():
        with pytest.raises(NerfspecError, match="no CUDA device is available"):
            load_run(run_dir, "cuda")
        assert main(["eval", str(run_dir), "--device", "cuda"]) == 2
        assert capsys.readouterr().err.strip().splitlines()[-1] == (
            "error: device 'cuda' was asked for but no CUDA device is available")


def moved_cams(run):
    from nerfspec.data.dataset import load_split

    return load_split(run.cfg.data, "test").cameras
