"""The training schedule: learning rate, budget progress and rays per step (pure functions)."""

from __future__ import annotations

from nerfspec.config import TrainConfig


def learning_rate(cfg: TrainConfig, step: int, progress: float) -> float:
    """lr = lr0 (lr_final / lr0)^progress, times a linear warm-up min(1, (step + 1) / warmup)."""
    return cfg.lr * lr_factor(cfg, step, progress)


def lr_factor(cfg: TrainConfig, step: int, progress: float) -> float:
    """The schedule's multiplier of every group's base rate: (lr_final / lr)^progress times the
    warm-up min(1, (step + 1) / warmup_steps)."""
    decay = (cfg.lr_final / cfg.lr) ** min(max(progress, 0.0), 1.0)
    warm = min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps > 0 else 1.0
    return decay * warm


def run_progress(cfg: TrainConfig, step: int, elapsed_s: float) -> float:
    """Share of the budget used: max(step / max_steps, elapsed / max_minutes) in [0, 1]."""
    p = step / cfg.max_steps
    if cfg.max_minutes > 0:
        p = max(p, elapsed_s / (60.0 * cfg.max_minutes))
    return min(p, 1.0)


def next_ray_count(cfg: TrainConfig, rays: int, samples: int) -> int:
    """With ``target_samples``, scale the ray count towards target_samples / samples-per-ray."""
    if cfg.target_samples <= 0:
        return cfg.rays_per_step
    per_ray = max(samples, 1) / max(rays, 1)
    return int(min(max(cfg.target_samples / per_ray, 64), cfg.max_rays_per_step))
