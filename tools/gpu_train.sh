#!/usr/bin/env bash
# Train TSAL on the lent GPU machine under Keras 3 + JAX (it has no TensorFlow and no ../shared).
#
# Here (CPU machine):
#   bash tools/gpu_train.sh stage
#       copies the 300W crops (HELEN + LFPW, train + test) into gpu_stage/data and downloads Keras' wheels for
#       Python 3.12 into gpu_stage/wheels (gpu_stage/ is git-ignored; about 50 MB, under the 64 MiB the device
#       tool carries).
# There (device tool, carry ["gpu_stage"]):
#   bash tools/gpu_train.sh curve MINUTES [EXTRA_FLAGS]
#       the supervised row of benchmarks/learning_curve.py for MINUTES of training on configs/300w_gpu.flags
#       (EXTRA_FLAGS: comma-separated flags added to the row), evaluated there on 300W common. A calibration
#       run sets the step count so that the cosine schedule ends at the budget; TSAL_GPU_RATE=<steps/s> skips
#       it (results/gpu_core.md gives the H200's). The benchmark runs under a time limit of
#       TSAL_CURVE_SECONDS (default 540) so that, finished or not, the call still extracts the latest
#       checkpoint's evaluated network (the weight average; tsal_tf.tools.extract_network, about a quarter of
#       the checkpoint) into $OUT/net.tar.part-*, beside the benchmark's log and report.
#   bash tools/gpu_train.sh run NAME [--flag=value ...]
#       installs the wheels into a temporary folder, trains configs/300w_video_gpu.flags plus the given flags
#       (a --flagfile among them too; --run_dir is always the one below, given last so that no flagfile moves it)
#       into /tmp/gpu_runs/NAME and packs that run directory (weights, flags, validation, train.log) as
#       $OUT/NAME.tar.part-aa, -ab, ... of at most 15 MiB each (the tool brings back files of up to 16 MiB).
#       Several runs may share the GPU at once (each takes at most $TSAL_GPU_MEMORY_FRACTION of its memory).
# Here again:
#   bash tools/gpu_train.sh unpack FETCHED_DIR runs/
#       joins every NAME.tar.part-* under FETCHED_DIR into runs/NAME; then
#   .venv/bin/python -m tsal_tf.evaluate --run_dir=runs/NAME --data_dir=../shared/data/300w_helen_test
set -euo pipefail
cd "$(dirname "$0")/.."

# Keras' wheels into a temporary folder (once per machine), then a command under KERAS_BACKEND=jax.
with_keras() {
  local lib="${TSAL_GPU_SITE:-/tmp/gpu_site}"
  [ -d "$lib/keras" ] || python3 -m pip install --quiet --no-index --no-deps --target "$lib" gpu_stage/wheels/*.whl
  XLA_PYTHON_CLIENT_MEM_FRACTION="${TSAL_GPU_MEMORY_FRACTION:-0.75}" PYTHONPATH="$lib:$PWD" KERAS_BACKEND=jax \
    PYTHONUNBUFFERED=1 "$@"
}

case "${1:-}" in
  stage)
    mkdir -p gpu_stage/data gpu_stage/wheels
    for split in 300w_helen_train 300w_lfpw_train 300w_helen_test 300w_lfpw_test; do
      mkdir -p "gpu_stage/data/$split" && cp -a "../shared/data/$split/." "gpu_stage/data/$split/"
    done
    pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 -d gpu_stage/wheels \
      keras==3.15.1 namex optree
    du -sh gpu_stage
    ;;
  curve)
    minutes="${2:?usage: bash tools/gpu_train.sh curve MINUTES [EXTRA_FLAGS]}"
    study=/tmp/gpu_runs/curve
    row="$study/supervised_$(python3 -c "import sys; print(f'{float(sys.argv[1]):g}')" "$minutes")min"
    out="${OUT:-/tmp/gpu_runs}"
    mkdir -p "$study" "$out"
    rm -rf /tmp/gpu_runs/net
    status=0
    with_keras timeout "${TSAL_CURVE_SECONDS:-540}" python3 benchmarks/learning_curve.py \
      --base_flags=configs/300w_gpu.flags --models=supervised --minutes="$minutes" --extra_flags="${3:-}" \
      --no_dlib --calibration_steps="${TSAL_CALIBRATION_STEPS:-300}" ${TSAL_GPU_RATE:+--rates=supervised=$TSAL_GPU_RATE} \
      --eval_dirs=gpu_stage/data/300w_helen_test,gpu_stage/data/300w_lfpw_test --study_dir="$study" \
      --report_dir="$out" > "$out/curve.log" 2>&1 || status=$?
    tail -n 5 "$out/curve.log"
    if [ -d "$row/checkpoints" ]; then
      with_keras python3 -m tsal_tf.tools.extract_network --run_dir="$row" --role=teacher --output=/tmp/gpu_runs/net
      for name in train.log result.json plan.json; do
        if [ -f "$row/$name" ]; then cp "$row/$name" /tmp/gpu_runs/net/; fi
      done
      tar -C /tmp/gpu_runs -cf - net | split -b 15M - "$out/net.tar.part-"
    fi
    exit "$status"
    ;;
  run)
    name="${2:?usage: bash tools/gpu_train.sh run NAME [--flag=value ...]}"
    shift 2
    run_dir="/tmp/gpu_runs/$name"
    mkdir -p "$run_dir"
    with_keras python3 -m tsal_tf.train --flagfile=configs/300w_video_gpu.flags --verbose=2 "$@" --run_dir="$run_dir" 2>&1 | tee "$run_dir/train.log"
    tar -C /tmp/gpu_runs -cf - "$name" | split -b 15M - "${OUT:-/tmp/gpu_runs}/$name.tar.part-"
    ;;
  unpack)
    from="${2:?usage: bash tools/gpu_train.sh unpack FETCHED_DIR RUNS_DIR}"
    to="${3:-runs}"
    mkdir -p "$to"
    for first in "$from"/*.tar.part-aa; do
      [ -e "$first" ] || { echo "no *.tar.part-aa under $from" >&2; exit 2; }
      cat "${first%-aa}"-* | tar -C "$to" -xf -
      echo "unpacked $(basename "${first%.tar.part-aa}") into $to"
    done
    ;;
  *)
    echo "usage: bash tools/gpu_train.sh stage | curve MINUTES [EXTRA_FLAGS] | run NAME [flags] | unpack FETCHED_DIR [RUNS_DIR]" >&2
    exit 2
    ;;
esac
