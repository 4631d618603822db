"""Several GPUs: one worker process per device, each bringing the runs of its queue to done
(``python -m nerfspec.compare JOB.json``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from nerfspec.compare.plan import Settings
from nerfspec.config import Config, config_to_dict


def cuda_devices(cfg: Config) -> list[str]:
    """CUDA_VISIBLE_DEVICES entries of the GPUs to spread runs over (empty: run in-process)."""
    if cfg.train.device == "cpu" or not torch.cuda.is_available() or torch.cuda.device_count() < 2:
        return []
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = [v.strip() for v in visible.split(",") if v.strip()] if visible else []
    n = torch.cuda.device_count()
    return ids[:n] if len(ids) >= n else [str(i) for i in range(n)]


def write_job(out: Path, cfg: Config, settings: Settings) -> Path:
    from nerfspec.run import atomic_write_bytes

    path = out / "jobs" / f"{cfg.name}.json"
    job = {"config": config_to_dict(cfg), "settings": settings.__dict__}
    atomic_write_bytes(path, json.dumps(job, indent=1).encode())
    return path


def run_parallel(jobs: list[Path], devices: list[str], log=print) -> list[str]:
    """Run ``python -m nerfspec.compare JOB`` for each job, one at a time per device
    (CUDA_VISIBLE_DEVICES set to it); returns the jobs that failed."""
    queue, running, failed = list(jobs), {}, []
    try:
        while queue or running:
            for dev in devices:
                if dev not in running and queue:
                    job = queue.pop(0)
                    env = {**os.environ, "CUDA_VISIBLE_DEVICES": dev}
                    log(f"{job.stem}: on device {dev}")
                    running[dev] = (job, subprocess.Popen([sys.executable, "-m", "nerfspec.compare", str(job)],
                                                          env=env))
            time.sleep(0.2)
            for dev, (job, proc) in list(running.items()):
                if proc.poll() is not None:
                    del running[dev]
                    if proc.returncode != 0:
                        failed.append(job.stem)
                        if proc.returncode == 130:
                            raise KeyboardInterrupt(f"{job.stem} interrupted")
    finally:
        for _job, proc in running.values():  # Ctrl-C: let every worker save its checkpoint
            proc.send_signal(2)
        for _job, proc in running.values():
            proc.wait()
    return failed
