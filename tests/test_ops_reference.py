"""The keras.ops reference ops against NumPy oracles."""

import numpy as np
from keras import ops

from tsal_tf.ops import reference


def numpy_heatmap_to_coords(heatmaps):
  batch, height, width, channels = heatmaps.shape
  coords = np.zeros((batch, channels, 2))
  confidence = np.zeros((batch, channels))
  for b in range(batch):
    for n in range(channels):
      h = heatmaps[b, :, :, n]
      y, x = np.unravel_index(np.argmax(h), h.shape)
      shift = []
      for axis_len, pos, l, r in ((width, x, h[y, max(x - 1, 0)], h[y, min(x + 1, width - 1)]),
                                  (height, y, h[max(y - 1, 0), x], h[min(y + 1, height - 1), x])):
        d = 2 * h[y, x] - l - r
        shift.append(np.clip(0.5 * (r - l) / d, -0.5, 0.5) if 0 < pos < axis_len - 1 and d > 0 else 0.0)
      coords[b, n] = [x + shift[0], y + shift[1]]
      confidence[b, n] = h[y, x]
  return coords, confidence


def numpy_warp(image, flow):
  batch, height, width, channels = image.shape
  out = np.zeros_like(image)
  for b in range(batch):
    for y in range(height):
      for x in range(width):
        sx = np.clip(x + flow[b, y, x, 0], 0, width - 1)
        sy = np.clip(y + flow[b, y, x, 1], 0, height - 1)
        x0, y0 = int(np.floor(sx)), int(np.floor(sy))
        x1, y1 = min(x0 + 1, width - 1), min(y0 + 1, height - 1)
        fx, fy = sx - x0, sy - y0
        out[b, y, x] = ((1 - fy) * ((1 - fx) * image[b, y0, x0] + fx * image[b, y0, x1])
                        + fy * ((1 - fx) * image[b, y1, x0] + fx * image[b, y1, x1]))
  return out


def test_heatmap_to_coords_matches_numpy():
  rng = np.random.default_rng(0)
  heatmaps = rng.uniform(0, 1, (2, 7, 9, 5)).astype(np.float32)
  heatmaps[0, 0, 0, 0] = 5.0      # peak on a corner: no refinement
  heatmaps[1, :, :, 1] = 0.25     # flat map: first pixel, no refinement
  coords, confidence = reference.heatmap_to_coords(heatmaps)
  want_coords, want_conf = numpy_heatmap_to_coords(heatmaps)
  np.testing.assert_allclose(ops.convert_to_numpy(coords), want_coords, atol=1e-5)
  np.testing.assert_allclose(ops.convert_to_numpy(confidence), want_conf, atol=1e-6)


def test_subpixel_rule_recovers_a_gaussian_peak_closely():
  xs, ys = np.meshgrid(np.arange(32), np.arange(32))
  peak = (12.3, 20.7)
  heat = np.exp(-((xs - peak[0]) ** 2 + (ys - peak[1]) ** 2) / (2 * 1.5 ** 2)).astype(np.float32)
  coords, _ = reference.heatmap_to_coords(heat[None, :, :, None])
  np.testing.assert_allclose(ops.convert_to_numpy(coords)[0, 0], peak, atol=0.06)


def test_dense_warp_and_sample_points_match_numpy():
  rng = np.random.default_rng(1)
  image = rng.uniform(0, 1, (2, 6, 7, 3)).astype(np.float32)
  flow = rng.uniform(-4, 4, (2, 6, 7, 2)).astype(np.float32)   # includes out-of-range samples
  np.testing.assert_allclose(ops.convert_to_numpy(reference.dense_warp(image, flow)), numpy_warp(image, flow),
                             atol=1e-5)
  points = np.array([[[0.5, 0.5], [6.0, 5.0], [-3.0, 2.2]]] * 2, np.float32)
  sampled = ops.convert_to_numpy(reference.sample_points(image, points))
  zero_flow = np.zeros_like(flow)
  for b in range(2):
    for n, (x, y) in enumerate(points[b]):
      shifted = zero_flow.copy()
      shifted[b, 0, 0] = [x, y]
      np.testing.assert_allclose(sampled[b, n], numpy_warp(image, shifted)[b, 0, 0], atol=1e-5)
