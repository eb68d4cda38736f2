"""Lazy loader of the custom-op library (`libtsal_ops.so`).

Search order: $TSAL_OPS_LIBRARY, then `build/libtsal_ops.so` (tools/build_ops.sh) and
`bazel-bin/custom_ops/libtsal_ops.so` under the repository root. Returns None (and warns once) when the backend is not TensorFlow, when
TSAL_PURE_TF_OPS=1, or when no library loads.
"""

import functools
import logging
import os

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CANDIDATES = ("build/libtsal_ops.so", "bazel-bin/custom_ops/libtsal_ops.so")


def library_path():
  """The first existing library path, or None."""
  explicit = os.environ.get("TSAL_OPS_LIBRARY")
  if explicit:
    return explicit
  for relative in CANDIDATES:
    path = os.path.join(_ROOT, relative)
    if os.path.isfile(path):
      return path
  return None


@functools.lru_cache(maxsize=None)
def load():
  """The loaded `custom_ops.wrappers` module, or None when the reference must be used."""
  import keras
  if os.environ.get("TSAL_PURE_TF_OPS") == "1" or keras.backend.backend() != "tensorflow":
    return None
  path = library_path()
  if path is None:
    logging.warning("tsal_tf: custom-op library not built (run tools/build_ops.sh); using the pure-TF reference")
    return None
  try:
    from tsal_tf.ops import custom
    return custom.bind(path)
  except Exception as error:  # a library that fails to load must never stop training
    logging.warning("tsal_tf: cannot load %s (%s); using the pure-TF reference", path, error)
    return None
