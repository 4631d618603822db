#!/usr/bin/env bash
# Every GPU check in one script, run on one H100/H200 (each part fits a 10-minute call; pick
# parts with ONLY=tests,gauss,hashgrid,render,bench, default all):
#   install   the package (no deps: the machine's own CUDA torch stays) plus any wheels in wheels/
#   build     nerfacc's CUDA extension, timed
#   tests     the CUDA-only tests (CPU/CUDA agreement of sampling, compositing, encodings)
#   gauss     lego 400x400 for TRAIN_MINUTES, eval on the 25 test views 0, 8, ..., 192
#   hashgrid  the same for the hash grid
#   render    a 120-frame 400x400 orbit of the hash-grid run, frames per second
#   bench     where a training step's time goes (bench_train, both GPU configs)
# Each run's run_info.json holds samples/s, rays/s and the peak GPU memory; summary.txt
# collects the figures. Usage: scripts/gpu_check.sh OUT_DIR [TRAIN_MINUTES]
# Data: $NERFSPEC_DATA/nerf_synthetic/lego, or ../shared/data/nerf_synthetic/lego.
# A dry run on a CPU machine (NERFSPEC_GPU_CHECK_DRY=1) does the same steps on the CPU, briefly.
set -uo pipefail
out=${1:?usage: scripts/gpu_check.sh OUT_DIR [TRAIN_MINUTES]}
minutes=${2:-5}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "$0")/.."
exec > >(tee -a "$out/gpu_check.log") 2>&1
PY=${PYTHON:-python3}
data=${NERFSPEC_DATA:-../shared/data}/nerf_synthetic/lego
dry=${NERFSPEC_GPU_CHECK_DRY:-0}
only=${ONLY:-tests,gauss,hashgrid,render,bench}
want() { [[ ",$only," == *",$1,"* ]]; }
step() { echo; echo "=== $* ($(date +%T))"; }

step "install"
if ls wheels/*.whl >/dev/null 2>&1; then $PY -m pip install -q --no-deps wheels/*.whl; fi
$PY -m pip install -q --no-deps -e . || exit 1
$PY - <<'PY' | tee -a "$out/summary.txt"
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
if torch.cuda.is_available():
    print("device", torch.cuda.get_device_name(0))
PY

step "nerfacc CUDA extension build"
$PY - <<'PY' | tee -a "$out/summary.txt"
import time
t = time.perf_counter()
from nerfspec.render.kernels import kernel_backend
print(f"kernels on cuda: {kernel_backend('cuda')}, build_or_load_s={time.perf_counter() - t:.1f}")
PY

if want tests; then
  step "CUDA tests"
  $PY -m pytest -q -rs tests/test_kernels.py tests/test_volume.py tests/test_sampling.py tests/test_hashgrid.py \
      2>&1 | tail -15 | tee -a "$out/summary.txt"
fi

extra=()
if [ "$dry" = 1 ]; then  # a CPU rehearsal: tiny batches, few views
  extra=(--max-steps 3 --set data.downscale=8 --set eval.every=100 --set train.rays_per_step=64
         --set train.target_samples=4096 --set field.hashgrid.log2_table_size=12)
fi

train_field() {  # train_field gauss|hashgrid: train, evaluate, summarise
  local f=$1
  step "timed training: $f on lego, ${minutes} min"
  if [ ! -f "$data/transforms_train.json" ]; then echo "no lego data at $data"; return 1; fi
  $PY -m nerfspec train "configs/lego_${f}_gpu.toml" --data "$data" --max-minutes "$minutes" \
      --set "output_dir='$out'" --force --eval "${extra[@]}"
  $PY - "$out/lego_${f}_gpu" <<'PY' | tee -a "$out/summary.txt"
import json, sys
from pathlib import Path
run = Path(sys.argv[1])
m = json.loads((run / "eval_test" / "metrics.json").read_text())
i = json.loads((run / "run_info.json").read_text())
mem = i.get("peak_memory_gb")
print(f"{i['encoding']}: steps {m['step']}, test PSNR {m['psnr']:.2f} dB, SSIM {m['ssim']:.4f} over "
      f"{len(m['views'])} views, {m['seconds_per_view']:.2f} s/view; {i['samples_per_s']:,.0f} samples/s, "
      f"{i['rays_per_s']:,.0f} rays/s, peak memory {'n/a' if mem is None else f'{mem:.2f} GiB'}, "
      f"{i['device_name']}, {i['precision']}, {i['kernels']} kernels")
PY
}
want gauss && train_field gauss
want hashgrid && train_field hashgrid

if want render; then
  step "render: 120-frame orbit of the hash-grid run"
  frames=120
  [ "$dry" = 1 ] && frames=3
  $PY -m nerfspec render "$out/lego_hashgrid_gpu" --frames "$frames" --out "$out/video" 2>&1 \
      | tail -3 | tee -a "$out/summary.txt"
fi

if want bench; then
  step "bench_train: where a GPU training step's time goes"
  steps=(--warmup 200 --steps 50)
  [ "$dry" = 1 ] && steps=(--warmup 2 --steps 2 --set data.downscale=8 --set train.rays_per_step=64
                           --set train.target_samples=4096 --set field.hashgrid.log2_table_size=12)
  $PY scripts/bench_train.py configs/lego_gauss_gpu.toml configs/lego_hashgrid_gpu.toml --set "data.root='$data'" \
      "${steps[@]}" 2>&1 | tail -26 | tee -a "$out/summary.txt"
fi
