#!/usr/bin/env bash
# Every GPU check in one run (fits in 10 minutes on one H100/H200):
#   1. install the package (no deps: the machine's own CUDA torch stays) plus any wheels in wheels/
#   2. build nerfacc's CUDA extension, timed
#   3. the CUDA-only tests (CPU/CUDA agreement of sampling and compositing)
#   4. a timed training of `gauss` on lego 400x400, then eval on the 25 test views
# Usage: scripts/gpu_check.sh OUT_DIR [TRAIN_MINUTES]   (log and results land in OUT_DIR)
# Data: $NERFSPEC_DATA/nerf_synthetic/lego, or ../shared/data/nerf_synthetic/lego.
# A dry run on a CPU machine (NERFSPEC_GPU_CHECK_DRY=1) does the same steps on the CPU, briefly.
set -uo pipefail
out=${1:?usage: scripts/gpu_check.sh OUT_DIR [TRAIN_MINUTES]}
minutes=${2:-5}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "$0")/.."
exec > >(tee "$out/gpu_check.log") 2>&1
PY=${PYTHON:-python3}
data=${NERFSPEC_DATA:-../shared/data}/nerf_synthetic/lego
dry=${NERFSPEC_GPU_CHECK_DRY:-0}

step() { echo; echo "=== $* ($(date +%T))"; }

step "install"
if ls wheels/*.whl >/dev/null 2>&1; then $PY -m pip install -q --no-deps wheels/*.whl; fi
$PY -m pip install -q --no-deps -e . || exit 1
$PY - <<'PY'
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
if torch.cuda.is_available():
    print("device", torch.cuda.get_device_name(0))
PY

step "nerfacc CUDA extension build"
$PY - <<'PY' | tee "$out/nerfacc_build.txt"
import time
t = time.perf_counter()
try:
    from nerfacc.cuda._backend import _C
    ok = _C is not None
except Exception as exc:  # report, do not stop the other checks
    ok = False
    print("build failed:", exc)
print(f"nerfacc extension available={ok} build_or_load_s={time.perf_counter() - t:.1f}")
PY

step "CUDA tests"
$PY -m pytest -q -rs tests/test_volume.py tests/test_sampling.py tests/test_cuda.py 2>&1 | tail -15

step "timed training: gauss on lego, ${minutes} min"
if [ ! -f "$data/transforms_train.json" ]; then echo "no lego data at $data"; exit 1; fi
extra=()
if [ "$dry" = 1 ]; then  # a CPU rehearsal: tiny batches, few views
  extra=(--max-steps 3 --set data.downscale=8 --set eval.every=100 --set train.rays_per_step=64 --set train.target_samples=4096)
fi
$PY -m nerfspec train configs/lego_gauss_gpu.toml --data "$data" --max-minutes "$minutes" \
    --set "output_dir='$out'" --force --eval "${extra[@]}"
$PY - "$out/lego_gauss_gpu" <<'PY' | tee "$out/summary.txt"
import json, sys
from pathlib import Path
run = Path(sys.argv[1])
m = json.loads((run / "eval_test" / "metrics.json").read_text())
s = json.loads((run / "train_summary.json").read_text()) if (run / "train_summary.json").exists() else {}
print(f"steps {m['step']}, test PSNR {m['psnr']:.2f} dB, SSIM {m['ssim']:.4f} over {len(m['views'])} views, "
      f"{m['seconds_per_view']:.2f} s/view")
for k, v in s.items():
    print(f"{k}: {v}")
PY
