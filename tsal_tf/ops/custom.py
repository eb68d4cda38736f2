"""Binding of the custom-op library: op wrappers and gradient registration (TensorFlow backend only)."""

import types

import tensorflow as tf

_registered = False


def bind(path):
  """Load `path` with tf.load_op_library; return a namespace of the three op functions."""
  global _registered
  library = tf.load_op_library(path)
  if not _registered:
    tf.no_gradient("Tsal>HeatmapToCoords")  # argmax: no gradient (the reference stops gradients too)

    @tf.RegisterGradient("Tsal>DenseWarp")
    def _dense_warp_grad(op, grad):
      return library.tsal_dense_warp_grad(op.inputs[0], op.inputs[1], grad)

    _registered = True

  def heatmap_to_coords(heatmaps):
    return library.tsal_heatmap_to_coords(tf.convert_to_tensor(heatmaps, tf.float32))

  def dense_warp(image, flow):
    return library.tsal_dense_warp(tf.convert_to_tensor(image, tf.float32), tf.convert_to_tensor(flow, tf.float32))

  from tsal_tf.ops import reference
  return types.SimpleNamespace(heatmap_to_coords=heatmap_to_coords, dense_warp=dense_warp,
                               sample_points=reference.sample_points, library=library, path=path)
