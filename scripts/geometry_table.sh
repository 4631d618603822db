#!/usr/bin/env bash
# Mesh quality against ground truth: each field trained for the same wall time on each scene with
# the free-space regularisers off, both on, and (hash grid) each alone, two runs side by side on
# one thread each; then every run meshed with each extractor (marching cubes on density, TSDF
# fusion of rendered depth) raw, cleaned with the silhouette rule and cleaned with the depth rule,
# and scored (F-score@0.02 on the visible and on the full surface, Chamfer-L1, components) beside
# its test PSNR.
#   hashgrid: configs/demo.toml (the demo's settings); other fields: configs/geometry.toml.
# Usage: scripts/geometry_table.sh [MINUTES] [FIELD ...]        (default: 5 gauss hashgrid)
# Environment: SCENES (default "default geometry"), REGS (default "off on dist bg" for hashgrid,
# "off on" for the others), METHODS (default "density tsdf"), CLEANINGS (default "raw silhouette
# depth"), STAGE (train | mesh | all, default all), RETRAIN=1 trains again runs that already have
# a checkpoint, REMESH=1 meshes again meshes that already have metrics. A run's training is
# skipped when it has one, so the mesh stage reuses the same checkpoints.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/table_common.sh
parse_table_args 5 "gauss hashgrid" "$@"
read -r -a scenes <<< "${SCENES:-default geometry}"
stage=${STAGE:-all}
out=outputs/geometry_table
python=${PYTHON:-.venv/bin/python}

config_of() { if [ "$1" = hashgrid ]; then echo configs/demo.toml; else echo configs/geometry.toml; fi; }
regs_of() { if [ "$1" = hashgrid ]; then echo "${REGS:-off on dist bg}"; else echo "${REGS:-off on}"; fi; }

# reg_settings REG: both weights, always set (configs/demo.toml turns both on)
reg_settings() {
  local d=0 b=0
  case $1 in
    on) d=0.01 b=0.01 ;;
    dist) d=0.01 ;;
    bg) b=0.01 ;;
    off) ;;
    *) echo "unknown regulariser setting $1 (off | on | dist | bg)" >&2; return 2 ;;
  esac
  echo "--set train.distortion_weight=$d --set train.background_opacity_weight=$b"
}

train_run() {  # train_run FIELD SCENE:REG
  local f=$1 scene=${2%%:*} reg=${2##*:} name
  name="${scene}_${f}_${reg}"
  if [ -z "${RETRAIN:-}" ] && ls "$out/$name"/checkpoints/*.pt > /dev/null 2>&1; then return; fi
  local extra
  read -r -a extra <<< "$(reg_settings "$reg")"
  OMP_NUM_THREADS=1 "$bin" train "$(config_of "$f")" --force --eval --max-minutes "$minutes" \
      --set field.encoding="$f" --set data.root="outputs/scenes/$scene" --set output_dir="$out" \
      --set name="$name" --set train.threads=1 --set eval.every=1 "${extra[@]}" \
      > "outputs/logs/gt_$name.train.log" 2>&1
}

# the cleaning variants: raw, the silhouette rule, the depth rule (both with the small-piece rule)
clean_options() {
  case $1 in
    raw) echo "--cull none --min-component 0" ;;
    silhouette) echo "--cull silhouette" ;;
    depth) echo "--cull depth" ;;
  esac
}

mesh_run() {  # mesh_run FIELD SCENE:REG: every extractor x cleaning into RUN/meshes/
  local f=$1 scene=${2%%:*} reg=${2##*:} method clean opts
  local run="$out/${scene}_${f}_${reg}"
  for method in ${METHODS:-density tsdf}; do
    for clean in ${CLEANINGS:-raw silhouette depth}; do
      [ -f "$run/meshes/${method}_$clean.json" ] && [ -z "${REMESH:-}" ] && continue
      read -r -a opts <<< "$(clean_options "$clean")"
      OMP_NUM_THREADS=1 "$bin" mesh "$run" --method "$method" --eval "${opts[@]}" \
          --out "$run/meshes/${method}_$clean.ply" --metrics "$run/meshes/${method}_$clean.json" \
          > "outputs/logs/gt_${scene}_${f}_${reg}.${method}_$clean.log" 2>&1
    done
  done
}

for scene in "${scenes[@]}"; do
  [ -f "outputs/scenes/$scene/transforms_train.json" ] || "$bin" make-scene "scenes/$scene.toml" "outputs/scenes/$scene"
done
for f in "${fields[@]}"; do
  runs=()
  for reg in $(regs_of "$f"); do
    for scene in "${scenes[@]}"; do runs+=("$scene:$reg"); done
  done
  pair_train() { train_run "$f" "$1"; }
  pair_mesh() { mesh_run "$f" "$1"; }
  [ "$stage" = mesh ] || run_in_pairs pair_train "${runs[@]}"
  [ "$stage" = train ] || run_in_pairs pair_mesh "${runs[@]}"
done
[ "$stage" = train ] || "$python" scripts/geometry_table.py "$out"
