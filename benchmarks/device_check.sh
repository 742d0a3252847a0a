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
#   train_speed_float32_<model>  benchmarks/train_speed.py for each model: ours against the
#                         PyTorch twin on the same GPU, and the twin with channels_last,
#                         torch.compile and cuDNN autotuning (--torch_tuned); compile and
#                         first-step times.
#   train_speed_bfloat16  every model in bfloat16 (ours) against autocast bfloat16 (torch).
#   input_pipeline_96, input_pipeline_224  benchmarks/input_pipeline.py --quick at 96 and
#                         224 px with 8 workers: the samples/s one host can feed the step.
# Each step has its own time limit (LIMIT below), so one that hangs cannot eat the others'.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/device_check}
PY=${PY:-python3}
mkdir -p "$OUT"
LOG="$OUT/device_check.log"
: > "$LOG"
NEEDED="import array_record, dm_pix, grain, ml_collections, portpicker, tensorboardX, tensorflow_datasets"
if ! "$PY" -c "$NEEDED" 2> /dev/null && compgen -G ".whl/*.whl" > /dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl >> "$LOG" 2>&1 || { echo "wheel install failed" >> "$LOG"; exit 1; }
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
"$PY" -c "$NEEDED" >> "$LOG" 2>&1 || { echo "missing packages: run benchmarks/device_wheels.sh here and carry .whl" >> "$LOG"; exit 1; }
# Two processes (ours and torch's) share the GPU: no preallocation of 75% of it each.
export XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1

if [ -n "${DEVICE_CHECK_QUICK:-}" ]; then  # A dry run of the script: one model, small.
  MODELS=(dmnet_cnn)
  SPEED=(--quick --no_sweep --repeats 2)
  PIPELINE=(--quick --batches 5 --repeats 1 --num_workers 0)
  SIZES=(64)
  SLOWER=3  # This machine's CPU takes longer than the limits, which are a GPU machine's.
else
  MODELS=(dmnet_cnn dmnet_resnet unet)
  SPEED=(--no_sweep --repeats 3)
  PIPELINE=(--quick --num_workers 8 --build_workers 12)
  SIZES=(96 224)
  SLOWER=1
fi
# Seconds each step may take: 470 in all, so the call ends within 8 minutes.
declare -A LIMIT=([dmnet_cnn]=70 [dmnet_resnet]=110 [unet]=70 [bfloat16]=100 [64]=50 [96]=50
                  [224]=70)

declare -A RESULTS
run_step() {  # run_step NAME SECONDS ARGS...: its last output line if JSON, else its status.
  local name=$1 limit=$2; shift 2
  echo "=== $name: $* (limit $((limit * SLOWER)) s)" >> "$LOG"
  local start=$SECONDS
  timeout $((limit * SLOWER)) "$PY" "$@" > "$OUT/step.log" 2>&1
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
for model in "${MODELS[@]}"; do  # One step per model: a slow compile loses one model only.
  run_step "train_speed_float32_$model" "${LIMIT[$model]}" benchmarks/train_speed.py "${SPEED[@]}" \
    --models "$model" --torch_tuned
done
models=$(IFS=,; echo "${MODELS[*]}")
run_step train_speed_bfloat16 "${LIMIT[bfloat16]}" benchmarks/train_speed.py "${SPEED[@]}" \
  --models "$models" --dtype bfloat16 --skip_check
for size in "${SIZES[@]}"; do
  run_step "input_pipeline_$size" "${LIMIT[$size]}" benchmarks/input_pipeline.py "${PIPELINE[@]}" \
    --image_size "$size"
done

{
  printf '{"gpu": "%s", "host_cpus": %s' "$GPU" "$(nproc)"
  for name in "${!RESULTS[@]}"; do printf ', "%s": %s' "$name" "${RESULTS[$name]}"; done
  printf '}\n'
} > "$OUT/device_check.json"
"$PY" -c "import json, sys; json.load(open(sys.argv[1]))" "$OUT/device_check.json" \
  && echo "wrote $OUT/device_check.json and $OUT/device_check.log"
