#!/usr/bin/env bash
# Tancik et al.'s Table 1 beyond NeRF on a 2-core CPU, as measured for the README: a reduced
# protocol (the paper: 512 px and 2000 steps for images, 10k steps of 32k points for shapes).
# Natural images at 64 px, text images at 128 px (at 64 px text is below the 32x32 training
# grid's resolution), 300 steps per test run, sweeps of 150 steps on the validation targets;
# shapes 300 steps of 2048 points at lr 2e-3 decayed 10x. One thread per run under nice;
# every run is resumable (OUT/*/runs/*.json), so rerunning this script only writes reports.
#   scripts/fit_table.sh [OUT]        (default outputs)
set -euo pipefail
OUT=${1:-outputs}
PY=${PYTHON:-python}
RUN="nice -n 19 $PY -m nerfspec fit"
COMMON="--steps 300 --sweep-steps 150 --threads 1 --quiet --curve-points 6"
$RUN image natural --size 64 $COMMON --sweep gauss=1.25,2.5,5 --sweep pe=4,8,16 --sweep rffca=0.25,0.5,1 \
  --out "$OUT/fit_image_natural" &
$RUN image text --size 128 $COMMON --sweep gauss=2.5,5,10 --sweep pe=4,8,16 --sweep rffca=0.25,0.5,1 \
  --out "$OUT/fit_image_text128" &
M="$OUT/meshes_src"
for scene in default geometry; do
  [ -f "$M/$scene/mesh.ply" ] || $PY -m nerfspec make-scene "scenes/$scene.toml" "$M/$scene" --size 8 --views 1 >/dev/null
done
[ -f "$M/procedural/bumpy_sphere.ply" ] || $PY scripts/fit_meshes.py "$M/procedural" --resolution 96
$RUN shape "$M/default/mesh.ply" "$M/geometry/mesh.ply" "$M/procedural/bumpy_sphere.ply" \
  --val "$M/procedural/ridged_torus.ply" $COMMON --lr 2e-3 --lr-decay 0.1 --batch 2048 --pool 262144 \
  --test-points 16384 --mesh-resolution 96 --out "$OUT/fit_shape" &
# RFF-CA variants and AFE on the 8 + 8 test images at one fixed scale (64 px)
CA="--fields rffca --sweep rffca=0.5 --size 64 $COMMON"
$RUN image natural text $CA --out "$OUT/fit_rffca_project" &
$RUN image natural text $CA --set field.rffca.variant=note --out "$OUT/fit_rffca_note" &
$RUN image natural text $CA --set "field.rffca.afe_at=[0.3,0.6]" --out "$OUT/fit_rffca_afe" &
wait
mkdir -p "$OUT/afe_toy"
nice -n 19 $PY scripts/spectral_toy.py --methods rffca rffca_afe --tones 5,300 --points 1024 --steps 1000 \
  --afe-at 0.1,0.3 --threads 1 --plot "$OUT/afe_toy/afe_1d.png"
