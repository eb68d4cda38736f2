"""Drawing landmarks on images (for TensorBoard, sample grids, overlay videos)."""

import cv2
import numpy as np


def draw_landmarks(image, points, truth=None, scale=1, colour=(0, 230, 0), truth_colour=(230, 40, 40)):
  """uint8 RGB image [H, W, 3] with points [N, 2] (and optional ground truth) drawn, upscaled by `scale`.

  Points use the 0-based pixel-centre convention; drawing is sub-pixel (cv2 shift of 4 bits).
  """
  canvas = cv2.resize(np.ascontiguousarray(image), None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
  radius = max(1, scale, round(scale * min(image.shape[:2]) / 250))  # visible on large frames too
  for group, col in ((truth, truth_colour), (points, colour)):
    if group is None:
      continue
    for x, y in np.asarray(group, np.float64):
      if np.isfinite(x) and np.isfinite(y):
        centre = (int(round(((x + 0.5) * scale - 0.5) * 16)), int(round(((y + 0.5) * scale - 0.5) * 16)))
        cv2.circle(canvas, centre, radius * 16, col, -1, cv2.LINE_AA, 4)
  return canvas


def grid(panels, columns):
  """Tile equally sized panels [H, W, 3] into rows of `columns` (missing cells black)."""
  rows = -(-len(panels) // columns)
  height, width = panels[0].shape[:2]
  canvas = np.zeros((rows * height, columns * width, 3), np.uint8)
  for i, panel in enumerate(panels):
    r, c = divmod(i, columns)
    canvas[r * height:(r + 1) * height, c * width:(c + 1) * width] = panel
  return canvas
