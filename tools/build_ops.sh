#!/usr/bin/env bash
# Build the custom-op library build/libtsal_ops.so (CPU kernels, plus CUDA kernels when nvcc is found).
# Bazel (Debian's bazel-bootstrap, installed here when missing and apt-get is usable) builds //custom_ops
# offline; without Bazel the same sources are compiled with g++/nvcc directly. A failed build never stops
# the set-up: tsal_tf then uses the pure-TF reference ops (with a warning).
# Idempotent: nothing is rebuilt when the sources and TensorFlow are unchanged.
set -uo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-.venv/bin/python}"
python="$(cd "$(dirname "$python")" && pwd)/$(basename "$python")"  # absolute, symlinks kept (venv)
export TF_CPP_MIN_LOG_LEVEL=3
out=build/libtsal_ops.so
stamp=build/.libtsal_ops.stamp
mkdir -p build

sources_hash() {
  { cat custom_ops/cc/*/* custom_ops/BUILD custom_ops/bazel/*.bzl custom_ops/bazel/*.py WORKSPACE
    ls "$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" | grep -i '^tensorflow-' 
    command -v nvcc; } | sha256sum | cut -c1-16
}
want="$(sources_hash)"
if [ -f "$out" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "[build_ops] $out is up to date"
  exit 0
fi

if ! command -v bazel >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "[build_ops] installing Debian's bazel-bootstrap"
  (apt-get install -y -qq bazel-bootstrap >/dev/null 2>&1 ||
   { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq bazel-bootstrap >/dev/null 2>&1; }) ||
    echo "[build_ops] could not install bazel-bootstrap; building without Bazel"
fi

built=""
if command -v bazel >/dev/null 2>&1; then
  echo "[build_ops] bazel build //custom_ops:libtsal_ops.so"
  if TSAL_PYTHON="$python" bazel build --noshow_progress //custom_ops:libtsal_ops.so \
       > build/bazel.log 2>&1; then
    cp -f bazel-bin/custom_ops/libtsal_ops.so "$out.tmp" && chmod u+w "$out.tmp" && mv -f "$out.tmp" "$out" && built=bazel
  else
    echo "[build_ops] Bazel build failed (see build/bazel.log); trying g++/nvcc directly"
    tail -5 build/bazel.log
  fi
fi

if [ -z "$built" ]; then
  settings="$("$python" custom_ops/bazel/find_toolchain.py)" || { echo "[build_ops] cannot query TensorFlow"; exit 0; }
  get() { "$python" -c "import json,sys; v=json.loads(sys.argv[1])[sys.argv[2]]; print(' '.join(v) if isinstance(v, list) else v)" "$settings" "$1"; }
  tf_include="$(get tf_include)"; tf_lib="$(get tf_lib)"; cflags="$(get tf_cflags)"
  nvcc="$(get nvcc)"; cudart="$(get cudart_static)"
  cuda_objects=(); cuda_flags=()
  if [ -n "$nvcc" ] && [ -n "$cudart" ]; then
    "$nvcc" -x cu -std=c++17 -O3 --expt-relaxed-constexpr -Xcompiler -fPIC \
      -gencode arch=compute_80,code=sm_80 -gencode arch=compute_89,code=sm_89 -gencode arch=compute_90,code=sm_90 \
      -c custom_ops/cc/kernels/tsal_gpu_launch.cu.cc -o build/tsal_gpu_launch.o || { echo "[build_ops] nvcc failed"; exit 0; }
    cuda_objects=(build/tsal_gpu_launch.o "$cudart" -ldl -lrt -lpthread)
    cuda_flags=(-DGOOGLE_CUDA=1 -I"$tf_include/third_party/gpus/cuda/include")
  fi
  if g++ -shared -fPIC -O3 -w $cflags -I"$tf_include" "${cuda_flags[@]}" -Icustom_ops/cc/kernels \
       custom_ops/cc/ops/tsal_ops.cc custom_ops/cc/kernels/tsal_kernels.cc "${cuda_objects[@]}" \
       -Wl,--exclude-libs,ALL "$tf_lib" -o "$out.tmp"; then
    mv -f "$out.tmp" "$out" && built=g++
  else
    echo "[build_ops] g++ build failed: tsal_tf will use the pure-TF reference ops"
    exit 0
  fi
fi
echo "$want" > "$stamp"
echo "[build_ops] built $out with $built$(command -v nvcc >/dev/null && echo ' (CPU + CUDA kernels)')"
