"""Training: ``train(cfg)`` creates (or resumes) a run and fits its field.

Modules: launch.py (run directory, data parallelism, logging set-up), trainer.py (the run's
state and loop), batching.py (random rays), step.py (loss and gradients), optim.py (Adam
groups, skipping non-finite steps), schedule.py (learning rate, budget, rays per step),
faults.py (numerical faults), progress.py (progress bar and TensorBoard scalars).
"""

from nerfspec.train.launch import train
from nerfspec.train.schedule import learning_rate, lr_factor, next_ray_count, run_progress
from nerfspec.train.trainer import Trainer, TrainResult

__all__ = ["Trainer", "TrainResult", "learning_rate", "lr_factor", "next_ray_count", "run_progress", "train"]
