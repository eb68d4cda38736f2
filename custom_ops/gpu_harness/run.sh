#!/usr/bin/env bash
# Build and run the CUDA harness on a GPU machine (no TensorFlow needed):
#   bash custom_ops/gpu_harness/run.sh            build, parity + timing, memcheck, racecheck
#   bash custom_ops/gpu_harness/run.sh --build    build only (CI does this without a GPU)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${HARNESS_OUT:-$here/build}"
mkdir -p "$out"
nvcc -x cu -O3 -std=c++17 --expt-relaxed-constexpr -lineinfo \
  -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
  -I"$here/../cc/kernels" "$here/harness.cu" "$here/../cc/kernels/tsal_gpu_launch.cu.cc" -o "$out/harness"
echo "built $out/harness"
[ "${1:-}" = "--build" ] && exit 0
"$out/harness"
compute-sanitizer --tool memcheck --leak-check full "$out/harness" --quick
compute-sanitizer --tool racecheck "$out/harness" --quick
