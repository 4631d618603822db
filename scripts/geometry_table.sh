#!/usr/bin/env bash
# Mesh quality against ground truth: each field trained for the same wall time on each scene with
# the free-space regularisers off and on (the pair side by side, one thread each), then every run
# meshed with each extractor (marching cubes on density, TSDF fusion of rendered depth), raw and
# cleaned, and scored (F-score@0.02 on the visible and on the full surface, Chamfer-L1,
# components) beside its test PSNR.
#   hashgrid: configs/demo.toml (the demo's settings); other fields: configs/geometry.toml.
# Usage: scripts/geometry_table.sh [MINUTES] [FIELD ...]        (default: 5 gauss hashgrid)
# Environment: SCENES (default "default geometry"), REGS (default "off on"), STAGE (train | mesh |
# all, default all), RETRAIN=1 trains again runs that already have a checkpoint. A run's
# training is skipped when it has one, so the mesh stage reuses the same checkpoints.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/table_common.sh
parse_table_args 5 "gauss hashgrid" "$@"
read -r -a scenes <<< "${SCENES:-default geometry}"
read -r -a regs <<< "${REGS:-off on}"
stage=${STAGE:-all}
out=outputs/geometry_table
# the free-space regularisers of the "on" runs (README: "Fewer floaters")
on_settings=(--set train.distortion_weight=0.01 --set train.background_opacity_weight=0.01)

config_of() { if [ "$1" = hashgrid ]; then echo configs/demo.toml; else echo configs/geometry.toml; fi; }

train_run() {  # train_run SCENE FIELD REG
  local scene=$1 f=$2 reg=$3 name="$1_$2_$3" extra=()
  if [ -z "${RETRAIN:-}" ] && ls "$out/$name"/checkpoints/*.pt > /dev/null 2>&1; then return; fi
  [ "$reg" = on ] && extra=("${on_settings[@]}")
  OMP_NUM_THREADS=1 "$bin" train "$(config_of "$f")" --force --eval --max-minutes "$minutes" \
      --set field.encoding="$f" --set data.root="outputs/scenes/$scene" --set output_dir="$out" \
      --set name="$name" --set train.threads=1 "${extra[@]}" > "outputs/logs/gt_$name.train.log" 2>&1
}

mesh_run() {  # mesh_run SCENE FIELD REG: every extractor x cleaning into RUN/meshes/
  local run="$out/$1_$2_$3" method clean
  for method in density tsdf; do
    for clean in raw clean; do
      local opts=(--cull none --min-component 0)
      [ "$clean" = clean ] && opts=()
      OMP_NUM_THREADS=1 "$bin" mesh "$run" --method "$method" --eval "${opts[@]}" \
          --out "$run/meshes/${method}_$clean.ply" --metrics "$run/meshes/${method}_$clean.json" \
          > "outputs/logs/gt_$1_$2_$3.${method}_$clean.log" 2>&1
    done
  done
}

for scene in "${scenes[@]}"; do
  [ -f "outputs/scenes/$scene/transforms_train.json" ] || "$bin" make-scene "scenes/$scene.toml" "outputs/scenes/$scene"
done
for scene in "${scenes[@]}"; do
  for f in "${fields[@]}"; do
    if [ "$stage" != mesh ]; then
      pair() { train_run "$scene" "$f" "$1"; }
      run_in_pairs pair "${regs[@]}"
    fi
    if [ "$stage" != train ]; then
      pair() { mesh_run "$scene" "$f" "$1"; }
      run_in_pairs pair "${regs[@]}"
    fi
  done
done
[ "$stage" = train ] || .venv/bin/python scripts/geometry_table.py "$out"
