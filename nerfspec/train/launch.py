"""``train()``: create or resume a run directory, set up data parallelism and logging, and fit."""

from __future__ import annotations

from pathlib import Path

from nerfspec.config import Config
from nerfspec.data.dataset import resolve_scene
from nerfspec.distributed import barrier, init_from_env, shutdown, weights_in_sync
from nerfspec.errors import OutputError
from nerfspec.run import check_new_run_dir, create_run_dir, describe_os_error, read_run_config, write_run_info
from nerfspec.run_layout import tensorboard_dir
from nerfspec.train.trainer import Trainer, TrainResult


def train(cfg: Config, resume_dir: str | Path | None = None, force: bool = False,
          quiet: bool = False, on_step=None) -> TrainResult:
    """Create (or resume) a run directory and train; returns where it went and how far."""
    from torch.utils.tensorboard import SummaryWriter

    ctx = init_from_env(cfg.train.device)
    main = ctx is None or ctx.is_main
    if resume_dir is not None:
        run_dir = Path(resume_dir)
        read_run_config(run_dir)  # checks it is a run
        trainer = Trainer(cfg, run_dir, resume=True, quiet=quiet, dist_ctx=ctx,
                          scene_note=f"scene frame, box and scene model ({cfg.data.scene}) as the run saved them")
    else:
        cfg, note = resolve_scene(cfg)  # a capture's scene frame and model, fixed in the run's config.toml
        if main:
            check_new_run_dir(cfg, force=force)
        trainer = Trainer(cfg, None, quiet=quiet, dist_ctx=ctx, scene_note=note)  # reads the dataset before anything is written
        run_dir = create_run_dir(cfg, force=force) if main else Path(cfg.output_dir) / cfg.name
        trainer.run_dir = run_dir
        if main:
            write_run_info(run_dir, trainer.describe())
        barrier()
    writer = None
    if main:
        try:
            writer = SummaryWriter(str(tensorboard_dir(run_dir)))
        except OSError as exc:
            raise OutputError(f"cannot write TensorBoard logs to {tensorboard_dir(run_dir)} ({describe_os_error(exc)})") from None
    try:
        result = trainer.fit(writer, on_step=on_step)
        if ctx is not None:
            in_sync = weights_in_sync(trainer.field, trainer.device)
            if main:
                print(f"data parallel: {ctx.world_size} ranks, weights identical across ranks: {in_sync}")
            barrier()
    finally:
        if writer is not None:
            writer.close()
        if ctx is not None:
            shutdown()
    return result
