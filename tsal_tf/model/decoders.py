"""Decoders from network outputs to landmarks (keras.ops; heatmap coordinates, 0-based pixel centres).

* p_M (LHR): sub-pixel peak of each landmark's heatmap logits (ops.heatmap_to_coords: argmax, then a parabola
  through the peak and its neighbours per axis; the softmax loss makes the logits a log-Gaussian around the
  landmark, for which that parabola is exact).
* p_C (CLOR): integer peak c of the face-centre heatmap plus the offsets regressed at c:
      p_C = c + offset_scale * O[c].
* tracking phi(V, g): start at g (frame 0) and chain bilinear flow samples, g_{t+1} = g_t + V_t(g_t).
* fusion: p = gamma * p_M + (1 - gamma) * p_C  (paper: gamma = 0.8).

Crop pixels u and heatmap coordinates v relate by the pixel-centre rule v = (u + 0.5) / stride - 0.5.
"""

from keras import ops

from tsal_tf import ops as tsal_ops


def offset_scale(heatmap_size):
  """Offsets are regressed in units of heatmap_size / 8 pixels (keeps targets near [-1, 1])."""
  return heatmap_size / 8.0


def to_heatmap_coords(points, stride):
  return (points + 0.5) / stride - 0.5


def to_crop_coords(points, stride):
  return (points + 0.5) * stride - 0.5


def centre_peak(centre_logits):
  """Integer argmax of the centre map [B, h, w, 1] -> (flat index [B], (x, y) float [B, 2])."""
  batch, height, width, _ = ops.shape(centre_logits)
  index = ops.argmax(ops.reshape(centre_logits, (batch, height * width)), axis=-1)
  xy = ops.stack([ops.cast(index % width, "float32"), ops.cast(index // width, "float32")], axis=-1)
  return index, xy


def offsets_at(offsets, flat_index):
  """Offsets [B, h, w, 2N] read at flat pixel indices [B] -> [B, N, 2] in heatmap pixels (differentiable)."""
  batch, height, width, channels = ops.shape(offsets)
  flat = ops.reshape(offsets, (batch, height * width, channels))
  picked = ops.take_along_axis(flat, ops.reshape(ops.cast(flat_index, "int32"), (batch, 1, 1)), axis=1)
  return ops.reshape(picked, (batch, channels // 2, 2)) * offset_scale(height)


def decode_clor(centre_logits, offsets):
  """p_C [B, N, 2] = integer centre peak + offsets there; also returns the offsets O [B, N, 2]."""
  index, centre = centre_peak(ops.stop_gradient(centre_logits))
  regressed = offsets_at(offsets, index)
  return ops.expand_dims(centre, 1) + regressed, regressed


def decode_lhr(heatmaps):
  """p_M [B, N, 2] and confidence [B, N] from heatmap logits [B, h, w, N].

  confidence = the spatial-softmax probability of the peak pixel, exp(max - logsumexp) in (0, 1].
  """
  coords, peak = tsal_ops.heatmap_to_coords(heatmaps)
  batch, height, width, channels = ops.shape(heatmaps)
  normaliser = ops.logsumexp(ops.reshape(heatmaps, (batch, height * width, channels)), axis=1)
  return coords, ops.exp(peak - normaliser)


def track(flows, start):
  """phi(V, g): flows [B, K-1, h, w, 2] (finest scale), start [B, N, 2] -> tracks [B, K, N, 2]."""
  points = [start]
  for t in range(flows.shape[1]):
    points.append(points[-1] + tsal_ops.sample_points(flows[:, t], points[-1]))
  return ops.stack(points, axis=1)


def fuse(p_m, p_c, gamma=0.8):
  return gamma * p_m + (1.0 - gamma) * p_c
