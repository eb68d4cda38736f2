#!/usr/bin/env bash
# Train the full TSAL config on the lent GPU machine under Keras 3 + JAX (it has no TensorFlow).
#
# Here (CPU machine):   bash tools/gpu_train.sh stage
#     copies the 300W crops into gpu_stage/data and downloads Keras' wheels for Python 3.12 into
#     gpu_stage/wheels (gpu_stage/ is git-ignored; about 25 MB, under the 64 MiB the device tool carries).
# There (device tool, carry ["gpu_stage"]):   bash tools/gpu_train.sh run
#     installs the wheels into a temporary folder, trains with configs/300w_video_gpu.flags and leaves the
#     teacher/student weights, flags and the training log in $OUT/run (brought back by the tool).
# Then here:  .venv/bin/python -m tsal_tf.evaluate --run_dir=<fetched run> --data_dir=../shared/data/300w_helen_test
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  stage)
    mkdir -p gpu_stage/data gpu_stage/wheels
    for split in 300w_helen_train 300w_helen_test; do
      rsync -a "../shared/data/$split/" "gpu_stage/data/$split/"
    done
    pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 -d gpu_stage/wheels \
      keras==3.15.1 namex optree
    du -sh gpu_stage
    ;;
  run)
    lib="$(mktemp -d)"
    python3 -m pip install --quiet --no-index --no-deps --target "$lib" gpu_stage/wheels/*.whl
    out="${OUT:-runs}"
    mkdir -p "$out/run"
    PYTHONPATH="$lib:$PWD" KERAS_BACKEND=jax python3 -m tsal_tf.train_jax \
      --flagfile=configs/300w_video_gpu.flags --run_dir="$out/run" --verbose=2 2>&1 | tee "$out/run/train.log"
    ;;
  *)
    echo "usage: bash tools/gpu_train.sh stage|run" >&2
    exit 2
    ;;
esac
