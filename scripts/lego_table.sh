#!/usr/bin/env bash
# The mapping comparison on Blender lego (400x400): each lego_<field> config trained for the
# same wall-time budget, then evaluated on the 25 test views 0, 8, ..., 192 (white background).
# On a 2-core CPU two runs go side by side with one thread each (equal conditions, and no
# thread of a run ever waits for a core held by the other).
# Usage: scripts/lego_table.sh [MINUTES] [FIELD ...]    (default: 20 none basic pe gauss)
# EVERY=24 evaluates views 0, 24, ..., 192 only (a 400x400 view takes 1-2 minutes on one thread).
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-20}; shift || true
fields=("${@:-none basic pe gauss}")
read -r -a fields <<< "${fields[*]}"
bin=${NERFSPEC:-.venv/bin/nerfspec}
mkdir -p outputs/logs
run_one() {
  local f=$1
  OMP_NUM_THREADS=1 "$bin" train "configs/lego_$f.toml" --force --max-minutes "$minutes" \
      --set train.threads=1 > "outputs/logs/lego_$f.train.log" 2>&1
  OMP_NUM_THREADS=1 "$bin" eval "outputs/lego_$f" --split test --every "${EVERY:-8}" > "outputs/logs/lego_$f.eval.log" 2>&1
}
for ((i = 0; i < ${#fields[@]}; i += 2)); do
  run_one "${fields[i]}" &
  if ((i + 1 < ${#fields[@]})); then run_one "${fields[i + 1]}" & fi
  wait
done
printf "%-8s %8s %8s %8s\n" field psnr ssim steps
for f in "${fields[@]}"; do
  .venv/bin/python -c "import json,sys; m=json.load(open('outputs/lego_$f/eval_test/metrics.json')); print(f\"{'$f':8s} {m['psnr']:8.2f} {m['ssim']:8.4f} {m['step']:8d}\")"
done
