"""Reference implementations of the custom ops in `keras.ops` (backend-agnostic; the test oracle).

Under the TensorFlow backend these are the "pure-TF reference" of the custom ops; under JAX they are what
runs. Coordinates are 0-based pixel centres of the tensor they index: (x, y) = (column, row).

* `heatmap_to_coords`: integer argmax of each channel plus a per-axis parabolic sub-pixel refinement
      dx = 0.5 * (h[x+1] - h[x-1]) / (2 h[x] - h[x-1] - h[x+1])   (same for y),
  applied only when the peak is an interior pixel on that axis and the denominator is positive, and clipped to
  [-0.5, 0.5]; confidence = the peak value. Not differentiable (argmax): gradients stop here.
* `dense_warp`: backward bilinear warp, out[b, y, x, c] = image sampled at (x + flow[b,y,x,0], y + flow[b,y,x,1]),
  border semantics "clamp": the sampling point is clamped to [0, W-1] x [0, H-1] (edge pixels repeat; the
  flow gradient is zero along an axis where the point was clamped).
* `sample_points`: the same bilinear clamped sampling of a [B, H, W, C] map at [B, N, 2] points -> [B, N, C].
"""

from keras import ops


def _parabolic_shift(left, centre, right, interior):
  denominator = 2.0 * centre - left - right
  safe = ops.where(denominator > 0, denominator, ops.ones_like(denominator))
  shift = ops.clip(0.5 * (right - left) / safe, -0.5, 0.5)
  return ops.where(ops.logical_and(interior, denominator > 0), shift, ops.zeros_like(shift))


def heatmap_to_coords(heatmaps):
  """Heatmaps [B, H, W, N] -> (coords [B, N, 2] as (x, y), confidence [B, N])."""
  heatmaps = ops.stop_gradient(ops.convert_to_tensor(heatmaps, "float32"))
  batch, height, width, channels = ops.shape(heatmaps)
  flat = ops.reshape(ops.transpose(heatmaps, (0, 3, 1, 2)), (batch, channels, height * width))
  index = ops.argmax(flat, axis=-1)
  peak_y = index // width
  peak_x = index % width

  def value(y, x):
    y = ops.clip(y, 0, height - 1)
    x = ops.clip(x, 0, width - 1)
    return ops.squeeze(ops.take_along_axis(flat, ops.expand_dims(y * width + x, -1), axis=-1), -1)

  centre = value(peak_y, peak_x)
  dx = _parabolic_shift(value(peak_y, peak_x - 1), centre, value(peak_y, peak_x + 1),
                        ops.logical_and(peak_x > 0, peak_x < width - 1))
  dy = _parabolic_shift(value(peak_y - 1, peak_x), centre, value(peak_y + 1, peak_x),
                        ops.logical_and(peak_y > 0, peak_y < height - 1))
  coords = ops.stack([ops.cast(peak_x, "float32") + dx, ops.cast(peak_y, "float32") + dy], axis=-1)
  return coords, centre


def _bilinear_gather(image, x, y):
  """Sample image [B, H, W, C] at float x, y [B, M] (clamped) -> [B, M, C]."""
  batch, height, width, channels = ops.shape(image)
  x = ops.clip(x, 0.0, ops.cast(width - 1, x.dtype))
  y = ops.clip(y, 0.0, ops.cast(height - 1, y.dtype))
  # A NaN point (a diverged network) reads pixel 0 with NaN weights: the NaN reaches the loss, where the NaN
  # guard names it, instead of an out-of-range gather index.
  x0 = ops.floor(ops.where(ops.isnan(x), 0.0, x))
  y0 = ops.floor(ops.where(ops.isnan(y), 0.0, y))
  fx = ops.expand_dims(x - x0, -1)
  fy = ops.expand_dims(y - y0, -1)
  x0 = ops.cast(x0, "int32")
  y0 = ops.cast(y0, "int32")
  x1 = ops.minimum(x0 + 1, width - 1)
  y1 = ops.minimum(y0 + 1, height - 1)
  flat = ops.reshape(image, (batch, height * width, channels))

  def gather(yy, xx):
    return ops.take_along_axis(flat, ops.expand_dims(yy * width + xx, -1), axis=1)

  return ((1 - fy) * ((1 - fx) * gather(y0, x0) + fx * gather(y0, x1))
          + fy * ((1 - fx) * gather(y1, x0) + fx * gather(y1, x1)))


def dense_warp(image, flow):
  """Backward bilinear warp: image [B, H, W, C], flow [B, H, W, 2] (dx, dy in pixels) -> [B, H, W, C]."""
  batch, height, width, channels = ops.shape(image)
  grid_x = ops.cast(ops.tile(ops.reshape(ops.arange(width), (1, 1, width)), (batch, height, 1)), flow.dtype)
  grid_y = ops.cast(ops.tile(ops.reshape(ops.arange(height), (1, height, 1)), (batch, 1, width)), flow.dtype)
  x = ops.reshape(grid_x + flow[..., 0], (batch, height * width))
  y = ops.reshape(grid_y + flow[..., 1], (batch, height * width))
  return ops.reshape(_bilinear_gather(image, x, y), (batch, height, width, channels))


def sample_points(field, points):
  """Bilinear (clamped) samples of field [B, H, W, C] at points [B, N, 2] -> [B, N, C]."""
  return _bilinear_gather(field, points[..., 0], points[..., 1])
