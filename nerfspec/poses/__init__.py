"""Camera poses as unknowns: per-camera corrections learned beside the field (BARF, Lin et al.
2021), the synthetic noise they are tested against, and how refined cameras are scored.

Modules: lie.py (se(3) exponential and logarithm, composition, rotation angles),
correction.py (corrections about the scene centre, BARF's noise), align.py (Procrustes
alignment, pose errors), files.py (poses_true.json, RUN/poses.json), perturb.py (a scene with
noisy training poses), evaluate.py (test-time pose optimisation, what eval reports), plot.py
(the cameras before and after), cli.py (``nerfspec perturb``).
"""
