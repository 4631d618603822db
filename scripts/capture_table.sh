#!/usr/bin/env bash
# Real-looking capture against its Blender-format twin: the default scene generated with 100
# training views as a nerfstudio capture (OPENCV lens, no alpha, sky environment) and in the
# Blender format (undistorted, RGBA, evaluated on white); each trained MINUTES (default 10) on
# 2 threads, one after the other (for an otherwise idle machine), evaluated on its test views
# and meshed at 256^3 with --eval (F-score@0.02, Chamfer-L1, IoU against the ground truth).
# Usage: scripts/capture_table.sh [MINUTES]
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-10}
bin=${NERFSPEC:-.venv/bin/nerfspec}
mkdir -p outputs/logs
sky=outputs/scenes/capture_sky
white=outputs/scenes/capture_white
[ -f "$sky/transforms.json" ] || "$bin" make-scene scenes/default.toml "$sky" --views 100 \
    --format nerfstudio --distortion=-0.12,0.03,0.001,-0.0005 --no-alpha --background sky
[ -f "$white/transforms_train.json" ] || "$bin" make-scene scenes/default.toml "$white" --views 100
for name in capture_white_gauss capture_gauss; do
  OMP_NUM_THREADS=2 "$bin" train "configs/$name.toml" --force --max-minutes "$minutes" --eval \
      > "outputs/logs/$name.train.log" 2>&1
  OMP_NUM_THREADS=2 "$bin" mesh "outputs/capture/$name" --resolution 256 --eval \
      > "outputs/logs/$name.mesh.log" 2>&1
done
printf "%-20s %9s %7s %7s %8s %10s %6s\n" run test_psnr ssim steps fscore chamfer_l1 iou
for name in capture_white_gauss capture_gauss; do
  .venv/bin/python - "$name" <<'PY'
import json, sys
name = sys.argv[1]
e = json.load(open(f"outputs/capture/{name}/eval_test/metrics.json"))
m = json.load(open(f"outputs/capture/{name}/mesh/metrics.json"))
c = "no surface" if m["chamfer_l1"] is None else f"{m['chamfer_l1']:.4f}"
print(f"{name:20s} {e['psnr']:9.2f} {e['ssim']:7.3f} {e['step']:7d} {m['fscore']:8.3f} {c:>10s} {m['iou']:6.3f}")
PY
done
