#!/usr/bin/env bash
# Every GPU check in one script, for one offline CUDA machine that has only a CUDA torch (and the
# packages scripts/download_wheels.py assumes): about 9-10 minutes on an H100.
#   install   the wheels in wheels/ (scripts/download_wheels.py, run beforehand on a machine online)
#             and this package, offline: pip --no-index --no-build-isolation --no-deps
#   cuda      a CUDA device is there (its name and torch's CUDA version)
#   build     nerfacc's CUDA extension, timed (or the PyTorch path, said once)
#   tests     the CUDA-only tests (CPU/CUDA agreement of sampling, compositing, encodings)
#   hashgrid  lego 400x400 for HASHGRID_MINUTES (2), eval on test views 0, 8, ..., 192: PSNR
#   gauss     the same for the gauss MLP, GAUSS_MINUTES (5)
#   render    a 120-frame 400x400 orbit of the hash-grid run: frames/s
#   bench     where a training step's time goes (scripts/bench_train.py, both GPU configs, clocks
#             read after torch.cuda.synchronize): field, sampling, compositing, optimiser
# Every part runs (ONLY=build,tests,... picks some), each under `set -euo pipefail`; its exit
# status and figures go to OUT/summary.txt, everything it prints to OUT/gpu_check.log, and the
# script exits non-zero when a part failed.
#   Usage: [PYTHON=python3] [NERFSPEC_DATA=DIR] scripts/gpu_check.sh OUT
# Data: $NERFSPEC_DATA/nerf_synthetic/lego (default ../shared/data). NERFSPEC_GPU_CHECK_DRY=1
# rehearses the script on a CPU machine: the device parts skip, training, eval, render and bench
# run for a few steps on the CPU.
set -uo pipefail
out=${1:?usage: scripts/gpu_check.sh OUT}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
data=${NERFSPEC_DATA:-../shared/data}/nerf_synthetic/lego
dry=${NERFSPEC_GPU_CHECK_DRY:-0}
only=${ONLY:-install,cuda,build,tests,hashgrid,gauss,render,bench}
log=$out/gpu_check.log
summary=$out/summary.txt
: > "$summary"
failed=0
has_cuda=0

note() { echo "$*" | tee -a "$summary"; }

# run_part NAME FUNCTION: the function in a subshell with errexit, its output in the log, its
# status and seconds in the summary
run_part() {
  local name=$1 fn=$2 t0 rc
  if [[ ",$only," != *",$name,"* ]]; then note "$name: not asked for (ONLY=$only)"; return; fi
  echo "=== $name ($(date +%T))" | tee -a "$log"
  t0=$(date +%s)
  ( set -euo pipefail; "$fn" ) 2>&1 | tee -a "$log"
  rc=${PIPESTATUS[0]}
  if [ "$rc" -eq 0 ]; then
    note "$name: ok ($(( $(date +%s) - t0 )) s)"
  elif [ "$rc" -eq 77 ]; then  # the part said why it skipped
    note "$name: skipped ($(( $(date +%s) - t0 )) s)"
  else
    note "$name: FAILED (exit $rc, $(( $(date +%s) - t0 )) s)"
    failed=1
  fi
}

gpu_only() {  # exit 77 (skipped) without a CUDA device on a dry run
  if [ "$has_cuda" = 0 ]; then echo "no CUDA device: skipped" | tee -a "$summary"; exit 77; fi
}

part_install() {
  shopt -s nullglob
  local wheels=(wheels/*.whl)
  if [ ${#wheels[@]} -gt 0 ]; then
    $PY -m pip install --no-index --find-links wheels --no-build-isolation --no-deps "${wheels[@]}"
  fi
  $PY -m pip install --no-index --find-links wheels --no-build-isolation --no-deps .
  (cd / && $PY -c "import nerfspec, nerfacc, trimesh, mcubes, imageio_ffmpeg, nerfspec.cli; print('imports ok')")
  $PY -m pip check || echo "note: pip check reports the above (not needed by nerfspec unless listed in wheels/)"
}

part_cuda() {
  $PY - <<'PY' | tee -a "$summary"
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print(f"device {p.name}, {p.total_memory / 2**30:.0f} GiB, capability {p.major}.{p.minor}")
PY
  if ! $PY -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "no CUDA device here" | tee -a "$summary"
    [ "$dry" = 1 ] && exit 77
    exit 1
  fi
}

part_build() {
  gpu_only
  $PY - <<'PY' | tee -a "$summary"
import time
t = time.perf_counter()
from nerfspec.render.kernels import kernel_backend
backend = kernel_backend("cuda")
print(f"kernels on cuda: {backend} (nerfacc's extension {'built or loaded' if backend == 'nerfacc' else 'unavailable: the PyTorch path runs'}) "
      f"in {time.perf_counter() - t:.1f} s")
PY
}

part_tests() {
  gpu_only
  $PY -m pytest -q -rs -p no:cacheprovider tests/test_kernels.py \
      "tests/test_volume.py::test_cpu_and_cuda_compositing_agree" 2>&1 | tail -15 | tee -a "$summary"
}

dry_train=()
if [ "$dry" = 1 ]; then  # a CPU rehearsal: tiny batches, a few steps and views
  dry_train=(--max-steps 3 --set data.downscale=8 --set eval.every=100 --set train.rays_per_step=64
             --set train.target_samples=4096 --set field.hashgrid.log2_table_size=12)
fi

train_field() {  # train_field gauss|hashgrid MINUTES: train, evaluate, summarise
  local f=$1 minutes=$2
  if [ ! -f "$data/transforms_train.json" ]; then echo "no lego data at $data (set NERFSPEC_DATA)"; exit 1; fi
  $PY -m nerfspec train "configs/lego_${f}_gpu.toml" --data "$data" --max-minutes "$minutes" \
      --set "output_dir='$out'" --force --eval "${dry_train[@]}"
  $PY - "$out/lego_${f}_gpu" <<'PY' | tee -a "$summary"
import json, sys
from pathlib import Path
run = Path(sys.argv[1])
m = json.loads((run / "eval_test" / "metrics.json").read_text())
i = json.loads((run / "run_info.json").read_text())
mem = i.get("peak_memory_gb")
print(f"{i['encoding']}: {m['step']} steps in {i['elapsed_s']:.0f} s, test PSNR {m['psnr']:.2f} dB, SSIM "
      f"{m['ssim']:.4f} over {len(m['views'])} views, {1 / m['seconds_per_view']:.2f} views/s; "
      f"{i['samples_per_s']:,.0f} samples/s, {i['rays_per_s']:,.0f} rays/s, peak memory "
      f"{'n/a' if mem is None else f'{mem:.2f} GiB'}, {i['device_name']}, {i['precision']}, {i['kernels']} kernels")
PY
}

part_hashgrid() { train_field hashgrid "${HASHGRID_MINUTES:-2}"; }
part_gauss() { train_field gauss "${GAUSS_MINUTES:-5}"; }

part_render() {
  local frames=120
  [ "$dry" = 1 ] && frames=3
  $PY -m nerfspec render "$out/lego_hashgrid_gpu" --frames "$frames" --out "$out/video" 2>&1 \
      | tr '\r' '\n' | grep -v "render orbit" | tail -2 | tee -a "$summary"
}

part_bench() {
  local steps=(--warmup 30 --steps 20)
  [ "$dry" = 1 ] && steps=(--warmup 2 --steps 2 --set data.downscale=8 --set train.rays_per_step=64
                           --set train.target_samples=4096 --set field.hashgrid.log2_table_size=12)
  $PY scripts/bench_train.py configs/lego_gauss_gpu.toml configs/lego_hashgrid_gpu.toml \
      --set "data.root='$data'" "${steps[@]}" 2>&1 | tail -26 | tee -a "$summary"
}

[ "$dry" = 1 ] && note "dry run (NERFSPEC_GPU_CHECK_DRY=1): device parts skip, the rest run briefly"
run_part install part_install
if $PY -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then has_cuda=1; fi
run_part cuda part_cuda
run_part build part_build
run_part tests part_tests
if [ "$has_cuda" = 1 ] || [ "$dry" = 1 ]; then
  run_part hashgrid part_hashgrid
  run_part gauss part_gauss
  run_part render part_render
  run_part bench part_bench
else
  for p in hashgrid gauss render bench; do note "$p: skipped (no CUDA device)"; done
fi
note "gpu_check: $([ "$failed" = 0 ] && echo 'every part passed or skipped' || echo 'a part FAILED')"
exit "$failed"
