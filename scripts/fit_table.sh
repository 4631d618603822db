#!/usr/bin/env bash
# Tancik et al.'s Table 1 beyond NeRF on this CPU: 2D images (natural, text), 3D occupancy,
# and the RFF-CA variants / AFE on images. SIZE, STEPS and SWEEP_STEPS shrink the protocol
# (the paper: 512 px, 2000 steps); every run is one thread under nice, results resumable.
#   scripts/fit_table.sh [OUT]        (default outputs)
set -euo pipefail
OUT=${1:-outputs}
PY=${PYTHON:-python}
SIZE=${SIZE:-64}; STEPS=${STEPS:-300}; SWEEP_STEPS=${SWEEP_STEPS:-150}
K=$(awk "BEGIN{print $SIZE/512}")  # scales follow the image size (the training grid's Nyquist is SIZE/4)
s() { awk "BEGIN{printf \"%g\", $1*$K}"; }
SWEEPS="--sweep gauss=$(s 10),$(s 20),$(s 40) --sweep pe=$(s 32),$(s 64),$(s 128) --sweep rffca=$(s 2),$(s 4),$(s 8)"
COMMON="--size $SIZE --steps $STEPS --threads 1 --quiet --curve-points 6"
for col in natural text; do
  nice -n 19 $PY -m nerfspec fit image $col $COMMON --sweep-steps $SWEEP_STEPS $SWEEPS --out "$OUT/fit_image_$col" &
done
M="$OUT/meshes_src"
for scene in default geometry; do
  [ -f "$M/$scene/mesh.ply" ] || $PY -m nerfspec make-scene "scenes/$scene.toml" "$M/$scene" --size 8 --views 1 >/dev/null
done
[ -f "$M/procedural/bumpy_sphere.ply" ] || $PY scripts/fit_meshes.py "$M/procedural" --resolution 96
nice -n 19 $PY -m nerfspec fit shape "$M/default/mesh.ply" "$M/geometry/mesh.ply" "$M/procedural/bumpy_sphere.ply" \
  --val "$M/procedural/ridged_torus.ply" --steps "$STEPS" --sweep-steps "$SWEEP_STEPS" --batch 2048 --pool 262144 \
  --test-points 16384 --threads 1 --quiet --curve-points 6 --mesh-resolution 96 --out "$OUT/fit_shape" &
CA="--fields rffca --sweep rffca=$(s 4) $COMMON"
nice -n 19 $PY -m nerfspec fit image natural text $CA --out "$OUT/fit_rffca_project" &
nice -n 19 $PY -m nerfspec fit image natural text $CA --set field.rffca.variant=note --out "$OUT/fit_rffca_note" &
nice -n 19 $PY -m nerfspec fit image natural text $CA --set "field.rffca.afe_at=[0.3,0.6]" --out "$OUT/fit_rffca_afe" &
wait
mkdir -p "$OUT/afe_toy"
nice -n 19 $PY scripts/spectral_toy.py --methods rffca rffca_afe --tones 5,300 --points 1024 --steps 1000 \
  --afe-at 0.1,0.3 --threads 1 --plot "$OUT/afe_toy/afe_1d.png"
