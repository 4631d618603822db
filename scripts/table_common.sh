# Shared by scripts/*_table.sh (source it). Timed runs on a 2-core CPU go side by side, two at
# a time with one thread each: equal conditions, and no thread of a run waits for a core that
# the other holds.

# parse_table_args DEFAULT_MINUTES DEFAULT_FIELDS [MINUTES] [FIELD ...] -> $minutes, $fields, $bin
parse_table_args() {
  local default_minutes=$1 default_fields=$2
  shift 2
  minutes=${1:-$default_minutes}
  shift || true
  local given=("${@:-$default_fields}")
  read -r -a fields <<< "${given[*]}"
  bin=${NERFSPEC:-.venv/bin/nerfspec}
  mkdir -p outputs/logs
}

# run_in_pairs FUNCTION FIELD ...: FUNCTION FIELD for each field, two at a time.
run_in_pairs() {
  local fn=$1
  shift
  local all=("$@") i
  for ((i = 0; i < ${#all[@]}; i += 2)); do
    "$fn" "${all[i]}" &
    if ((i + 1 < ${#all[@]})); then "$fn" "${all[i + 1]}" & fi
    wait
  done
}
