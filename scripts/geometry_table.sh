#!/usr/bin/env bash
# Mesh quality against ground truth on the generated geometry scene: each mapping trained for
# the same wall time (two at a time, one thread each), then meshed at 256^3 with --eval
# (Chamfer-L1 and F-score in scene units, volumetric IoU) at density THRESHOLD (default 10).
# Usage: scripts/geometry_table.sh [MINUTES] [FIELD ...]    (default: 5 none gauss)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/table_common.sh
parse_table_args 5 "none gauss" "$@"
scene=outputs/scenes/geometry
[ -f "$scene/transforms_train.json" ] || "$bin" make-scene scenes/geometry.toml "$scene"
run_one() {
  local f=$1
  OMP_NUM_THREADS=1 "$bin" train configs/geometry.toml --force --max-minutes "$minutes" \
      --set field.encoding="$f" --set name="geometry_$f" --set train.threads=1 \
      > "outputs/logs/geometry_$f.train.log" 2>&1
  OMP_NUM_THREADS=1 "$bin" mesh "outputs/geometry/geometry_$f" --resolution 256 --eval \
      --threshold "${THRESHOLD:-10}" \
      > "outputs/logs/geometry_$f.mesh.log" 2>&1
}
run_in_pairs run_one "${fields[@]}"
printf "%-8s %10s %8s %8s %8s\n" field chamfer_l1 fscore iou steps
for f in "${fields[@]}"; do
  .venv/bin/python -c "import json; m=json.load(open('outputs/geometry/geometry_$f/mesh/metrics.json')); c=m['chamfer_l1']; print(f\"{'$f':8s} {'no surface' if c is None else format(c, '.4f'):>10s} {m['fscore']:8.3f} {m['iou']:8.3f} {m['step']:8d}\")"
done
