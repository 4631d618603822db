#!/usr/bin/env bash
# Real-looking capture against its Blender-format twin: a built-in scene (SCENE, default
# "default") generated with 100 training views as a nerfstudio capture (OPENCV lens, no alpha,
# sky environment) and in the Blender format (undistorted, RGBA, evaluated on white); each
# trained MINUTES (default 10) on 2 threads, one after the other (for an otherwise idle
# machine), evaluated on its test views and meshed at 256^3 with --eval (F-score@0.02,
# Chamfer-L1, IoU against the ground truth). "geometry" has cameras all around, so every
# surface of its ground truth is seen; "default" has upper-hemisphere cameras like the Blender
# scenes, so the underside of its plinth is never seen and its mesh there is a guess.
# Usage: scripts/capture_table.sh [MINUTES] [SCENE]     (runs: outputs/capture/<scene>_*)
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-10}
scene=${2:-default}
bin=${NERFSPEC:-.venv/bin/nerfspec}
mkdir -p outputs/logs
sky=outputs/scenes/capture_${scene}_sky
white=outputs/scenes/capture_${scene}_white
[ -f "$sky/transforms.json" ] || "$bin" make-scene "scenes/$scene.toml" "$sky" --views 100 \
    --format nerfstudio --distortion=-0.12,0.03,0.001,-0.0005 --no-alpha --background sky
[ -f "$white/transforms_train.json" ] || "$bin" make-scene "scenes/$scene.toml" "$white" --views 100
declare -A root=([capture_white_gauss]=$white [capture_gauss]=$sky)
for config in capture_white_gauss capture_gauss; do
  name=${scene}_$config
  OMP_NUM_THREADS=2 "$bin" train "configs/$config.toml" --force --max-minutes "$minutes" --eval \
      --name "$name" --data "${root[$config]}" > "outputs/logs/$name.train.log" 2>&1
  OMP_NUM_THREADS=2 "$bin" mesh "outputs/capture/$name" --resolution 256 --eval \
      > "outputs/logs/$name.mesh.log" 2>&1
done
printf "%-30s %9s %7s %7s %8s %10s %6s\n" run test_psnr ssim steps fscore chamfer_l1 iou
for config in capture_white_gauss capture_gauss; do
  .venv/bin/python - "${scene}_$config" <<'PY'
import json, sys
name = sys.argv[1]
e = json.load(open(f"outputs/capture/{name}/eval_test/metrics.json"))
m = json.load(open(f"outputs/capture/{name}/mesh/metrics.json"))
c = "no surface" if m["chamfer_l1"] is None else f"{m['chamfer_l1']:.4f}"
print(f"{name:30s} {e['psnr']:9.2f} {e['ssim']:7.3f} {e['step']:7d} {m['fscore']:8.3f} {c:>10s} {m['iou']:6.3f}")
PY
done
