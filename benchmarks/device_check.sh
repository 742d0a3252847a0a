#!/usr/bin/env bash
# Every device-relevant measurement in one call, for a lent GPU machine: at most 8 minutes.
#
#   bash benchmarks/device_wheels.sh    # here, once: the wheels the GPU machine lacks, in .whl/
#   device run: command "bash benchmarks/device_check.sh", carry [".whl"], timeout_s 560 (the steps: 8 min at most)
#   DEVICE_CHECK_QUICK=1 PY=.venv/bin/python bash benchmarks/device_check.sh   # a dry run here
#
# Writes two files to $OUT (default /tmp/device_check): device_check.log, everything the
# steps printed, and device_check.json, one object: the GPU (nvidia-smi), and the last JSON
# line of each step, or its exit status where it printed none:
#   train_speed_float32   benchmarks/train_speed.py on every model: ours against the PyTorch
#                         twin on the same GPU, and the twin with channels_last and
#                         torch.compile (--torch_tuned); compile and first-step times.
#   train_speed_bfloat16  the same in bfloat16 (ours) against autocast bfloat16 (torch).
#   input_pipeline_96, input_pipeline_224  benchmarks/input_pipeline.py --quick at 96 and
#                         224 px with 8 workers: the samples/s one host can feed the step.
# Each step has its own time limit, so one that hangs cannot eat the others' time.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/device_check}
PY=${PY:-python3}
mkdir -p "$OUT"
LOG="$OUT/device_check.log"
: > "$LOG"
NEEDED="import array_record, dm_pix, grain, ml_collections, tensorboardX, tensorflow_datasets"
if ! "$PY" -c "$NEEDED" 2> /dev/null && compgen -G ".whl/*.whl" > /dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl >> "$LOG" 2>&1 || { echo "wheel install failed" >> "$LOG"; exit 1; }
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
# Two processes (ours and torch's) share the GPU: no preallocation of 75% of it each.
export XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1

if [ -n "${DEVICE_CHECK_QUICK:-}" ]; then  # A dry run of the script: one model, small.
  SPEED=(--quick --no_sweep --repeats 2)
  PIPELINE=(--quick --batches 5 --repeats 1 --num_workers 0)
  SIZES=(64)
else
  SPEED=(--no_sweep --repeats 3)
  PIPELINE=(--quick --num_workers 8 --build_workers 12)
  SIZES=(96 224)
fi

declare -A RESULTS
run_step() {  # run_step NAME SECONDS ARGS...: its last output line if JSON, else its status.
  local name=$1 limit=$2; shift 2
  echo "=== $name: $* (limit ${limit} s)" >> "$LOG"
  local start=$SECONDS
  timeout "$limit" "$PY" "$@" > "$OUT/step.log" 2>&1
  local status=$?
  cat "$OUT/step.log" >> "$LOG"
  local last
  last=$(grep -v '^\s*$' "$OUT/step.log" | tail -n 1)
  rm -f "$OUT/step.log"
  if [ "$status" = 0 ] && [[ "$last" == "{"* ]]; then
    RESULTS[$name]=$last
  else
    RESULTS[$name]="{\"exit_status\": $status}"
  fi
  echo "=== $name: exit $status after $((SECONDS - start)) s" >> "$LOG"
}

GPU=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null \
      || echo "no nvidia-smi")
run_step train_speed_float32 230 benchmarks/train_speed.py "${SPEED[@]}" --torch_tuned
run_step train_speed_bfloat16 130 benchmarks/train_speed.py "${SPEED[@]}" --dtype bfloat16 \
  --skip_check
for size in "${SIZES[@]}"; do
  run_step "input_pipeline_$size" $((size > 100 ? 70 : 50)) benchmarks/input_pipeline.py "${PIPELINE[@]}" \
    --image_size "$size"
done

{
  printf '{"gpu": "%s", "host_cpus": %s' "$GPU" "$(nproc)"
  for name in "${!RESULTS[@]}"; do printf ', "%s": %s' "$name" "${RESULTS[$name]}"; done
  printf '}\n'
} > "$OUT/device_check.json"
"$PY" -c "import json, sys; json.load(open(sys.argv[1]))" "$OUT/device_check.json" \
  && echo "wrote $OUT/device_check.json and $OUT/device_check.log"
