"""Print the build settings of the custom ops as JSON: TensorFlow's flags (tf.sysconfig) and CUDA, if any.

Used by the Bazel repository rule (custom_ops/bazel/tf_configure.bzl) and by tools/build_ops.sh.
Keys: tf_include, tf_lib_dir, tf_lib, tf_cflags (list), nvcc (path or ""), cuda_root, cudart_static.
"""

import glob
import json
import os
import re
import shutil
import subprocess
import sys


def cuda_settings():
  nvcc = os.environ.get("TSAL_NVCC") or shutil.which("nvcc") or ""
  if not nvcc:
    return {"nvcc": "", "cuda_root": "", "cudart_static": ""}
  root = ""
  try:  # nvcc may be a wrapper script: ask it where its toolkit lives
    dry = subprocess.run([nvcc, "-dryrun", "-c", "-x", "cu", os.devnull, "-o", os.devnull],
                         capture_output=True, text=True, timeout=60)
    match = re.search(r"TOP=(\S+)", dry.stdout + dry.stderr)
    if match:
      root = os.path.realpath(match.group(1))
  except (OSError, subprocess.SubprocessError):
    pass
  root = root or os.path.dirname(os.path.dirname(os.path.realpath(nvcc)))
  candidates = (glob.glob(os.path.join(root, "lib*", "libcudart_static.a"))
                + glob.glob(os.path.join(root, "targets", "*", "lib", "libcudart_static.a")))
  return {"nvcc": nvcc, "cuda_root": root, "cudart_static": candidates[0] if candidates else ""}


def main():
  import tensorflow as tf
  lib_dir = os.path.dirname(tf.__file__)
  settings = {
      "tf_include": tf.sysconfig.get_include(),
      "tf_lib_dir": lib_dir,
      "tf_lib": os.path.join(lib_dir, "libtensorflow_framework.so.2"),
      "tf_cflags": [f for f in tf.sysconfig.get_compile_flags() if not f.startswith("-I")],
  }
  settings.update(cuda_settings())
  json.dump(settings, sys.stdout)


if __name__ == "__main__":
  main()
