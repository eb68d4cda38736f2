"""The fused ops' Python API: custom C++/CUDA kernels under TensorFlow, the keras.ops reference otherwise.

    heatmap_to_coords(heatmaps [B,H,W,N]) -> (coords [B,N,2], confidence [B,N])
    dense_warp(image [B,H,W,C], flow [B,H,W,2]) -> [B,H,W,C]
    sample_points(field [B,H,W,C], points [B,N,2]) -> [B,N,C]

Semantics (sub-pixel rule, border handling) are documented in `tsal_tf.ops.reference`. The custom library
(`custom_ops/`, built by `tools/build_ops.sh`) is used when the Keras backend is TensorFlow, the library
loads and `TSAL_PURE_TF_OPS` is not "1"; otherwise the reference runs (with a one-line warning when the
library is missing). Exported SavedModels always use the reference (stock TF Serving has no custom ops).
"""

import contextlib
import threading

from tsal_tf.ops import loader
from tsal_tf.ops import reference

_state = threading.local()


@contextlib.contextmanager
def force_reference():
  """Within this context every op uses the keras.ops reference (used for export)."""
  previous = getattr(_state, "force_reference", False)
  _state.force_reference = True
  try:
    yield
  finally:
    _state.force_reference = previous


def _custom():
  if getattr(_state, "force_reference", False):
    return None
  return loader.load()


def heatmap_to_coords(heatmaps):
  library = _custom()
  if library is None:
    return reference.heatmap_to_coords(heatmaps)
  return library.heatmap_to_coords(heatmaps)


def dense_warp(image, flow):
  library = _custom()
  if library is None:
    return reference.dense_warp(image, flow)
  return library.dense_warp(image, flow)


def sample_points(field, points):
  library = _custom()
  if library is None:
    return reference.sample_points(field, points)
  return library.sample_points(field, points)
