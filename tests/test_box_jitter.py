"""benchmarks/box_jitter.py: the perturbed face boxes stay within the stated ranges."""

import sys

import numpy as np

from runners import ROOT
sys.path.insert(0, ROOT)
from benchmarks import box_jitter  # noqa: E402


def test_jittered_boxes_move_and_scale_within_the_jitter():
  boxes = np.array([[10.0, 20.0, 50.0, 80.0], [0.0, 0.0, 30.0, 20.0]] * 200)
  np.testing.assert_allclose(box_jitter.jittered_boxes(boxes, 0.0, np.random.default_rng(0)), boxes)
  moved = box_jitter.jittered_boxes(boxes, 0.1, np.random.default_rng(0))
  side = (boxes[:, 2:] - boxes[:, :2]).max(axis=1, keepdims=True)
  shift = (0.5 * (moved[:, :2] + moved[:, 2:]) - 0.5 * (boxes[:, :2] + boxes[:, 2:])) / side
  scale = (moved[:, 2:] - moved[:, :2]) / (boxes[:, 2:] - boxes[:, :2])
  assert np.abs(shift).max() <= 0.1 and np.abs(shift).max() > 0.09  # uniform over the whole range
  np.testing.assert_allclose(scale[:, 0], scale[:, 1])  # one scale per box: its aspect is kept
  assert 0.9 <= scale.min() < 0.91 and 1.09 < scale.max() <= 1.1
