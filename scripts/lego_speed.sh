#!/usr/bin/env bash
# Minutes, not hours: the hash grid after FAST minutes against the Gaussian-feature MLP after
# SLOW minutes on Blender lego (400x400), side by side with one thread each, then both
# evaluated side by side (one thread each) on the 25 test views 0, 8, ..., 192: test PSNR and
# seconds per 400x400 view.
# Usage: scripts/lego_speed.sh [FAST] [SLOW]    (default 5 20; runs go to outputs/speed_*)
set -euo pipefail
cd "$(dirname "$0")/.."
fast=${1:-5}
slow=${2:-20}
bin=${NERFSPEC:-.venv/bin/nerfspec}
mkdir -p outputs/logs
train_one() {  # train_one FIELD MINUTES
  OMP_NUM_THREADS=1 "$bin" train "configs/lego_$1.toml" --force --max-minutes "$2" --set "name='speed_$1'" \
      --set train.threads=1 > "outputs/logs/speed_$1.train.log" 2>&1
}
eval_one() {
  OMP_NUM_THREADS=1 "$bin" eval "outputs/speed_$1" --split test --every 8 --device cpu \
      > "outputs/logs/speed_$1.eval.log" 2>&1
}
export -f train_one eval_one
export bin
train_one hashgrid "$fast" & train_one gauss "$slow" & wait
eval_one hashgrid & eval_one gauss & wait
printf "%-9s %8s %8s %8s %8s %10s %12s\n" field minutes psnr ssim steps samples/s s/view
for f in hashgrid gauss; do
  .venv/bin/python - "$f" <<'PY'
import json, sys
f = sys.argv[1]
m = json.load(open(f"outputs/speed_{f}/eval_test/metrics.json"))
i = json.load(open(f"outputs/speed_{f}/run_info.json"))
print(f"{f:9s} {i['elapsed_s'] / 60:8.1f} {m['psnr']:8.2f} {m['ssim']:8.4f} {m['step']:8d} "
      f"{i['samples_per_s']:10,.0f} {m['seconds_per_view']:12.2f}")
PY
done
