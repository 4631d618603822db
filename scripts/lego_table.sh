#!/usr/bin/env bash
# The mapping comparison on Blender lego (400x400): each lego_<field> config trained for the
# same wall-time budget, then evaluated on the 25 test views 0, 8, ..., 192 (white background).
# Runs go side by side, two at a time with one thread each (scripts/table_common.sh).
# Usage: scripts/lego_table.sh [MINUTES] [FIELD ...]    (default: 20 none basic pe gauss hashgrid)
# EVERY=24 evaluates views 0, 24, ..., 192 only (a 400x400 view takes 1-2 minutes on one thread).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/table_common.sh
parse_table_args 20 "none basic pe gauss hashgrid" "$@"
run_one() {
  local f=$1
  OMP_NUM_THREADS=1 "$bin" train "configs/lego_$f.toml" --force --max-minutes "$minutes" \
      --set train.threads=1 > "outputs/logs/lego_$f.train.log" 2>&1
  OMP_NUM_THREADS=1 "$bin" eval "outputs/lego_$f" --split test --every "${EVERY:-8}" > "outputs/logs/lego_$f.eval.log" 2>&1
}
run_in_pairs run_one "${fields[@]}"
printf "%-8s %8s %8s %8s\n" field psnr ssim steps
for f in "${fields[@]}"; do
  .venv/bin/python -c "import json,sys; m=json.load(open('outputs/lego_$f/eval_test/metrics.json')); print(f\"{'$f':8s} {m['psnr']:8.2f} {m['ssim']:8.4f} {m['step']:8d}\")"
done
