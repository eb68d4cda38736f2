"""Each loss against a hand-computed value (keras.ops under the TensorFlow backend)."""

import math
import subprocess
import sys

import numpy as np
import pytest
from keras import ops
from runners import ROOT

from tsal_tf import losses
from tsal_tf.model import decoders
from tsal_tf.objective import ObjectiveConfig


def _np(x):
  return ops.convert_to_numpy(x)


def test_gaussian_heatmaps_peak_and_falloff():
  heat = _np(losses.gaussian_heatmaps(np.array([[[2.0, 1.0]]], np.float32), 4, 5, 1.0))
  assert heat.shape == (1, 4, 5, 1)
  assert heat[0, 1, 2, 0] == pytest.approx(1.0)
  assert heat[0, 1, 3, 0] == pytest.approx(math.exp(-0.5))
  assert heat[0, 3, 4, 0] == pytest.approx(math.exp(-4.0))


def test_heatmap_mse():
  assert float(losses.heatmap_mse(np.ones((1, 2, 2, 1)), np.zeros((1, 2, 2, 1)))) == pytest.approx(1.0)
  assert float(losses.heatmap_mse(np.full((1, 2, 1, 1), 0.5), np.array([[[[1.0]], [[0.5]]]]))) == pytest.approx(0.125)


def test_centre_focal_loss_hand_computed():
  # 1x2 map: a positive pixel with p = 0.8 and a negative pixel with y = 0.5, p = 0.2.
  logits = np.log(np.array([0.8 / 0.2, 0.2 / 0.8], np.float32)).reshape(1, 1, 2, 1)
  target = np.array([1.0, 0.5], np.float32).reshape(1, 1, 2, 1)
  expected = -((0.2 ** 2) * math.log(0.8) + (0.5 ** 4) * (0.2 ** 2) * math.log(0.8))
  assert float(losses.centre_focal_loss(logits, target)) == pytest.approx(expected, rel=1e-5)


def test_clor_targets_and_offset_l1():
  points = np.array([[[2.0, 2.0], [6.0, 4.0]]], np.float32)   # box centre (4, 3)
  heat, index, offsets = losses.centre_target(points, 8, 8)
  assert int(_np(index)[0]) == 3 * 8 + 4 and _np(heat)[0, 3, 4, 0] == pytest.approx(1.0)
  np.testing.assert_allclose(_np(offsets)[0], [[-2, -1], [2, 1]])
  scale = decoders.offset_scale(8)                             # offsets regressed in units of h / 8 = 1 px
  predicted = np.zeros((1, 8, 8, 4), np.float32)
  predicted[0, 3, 4] = [-2, -1, 2, 3]                          # one coordinate off by 2
  assert float(losses.offset_l1(predicted, index, offsets)) == pytest.approx(2.0 / 4 / scale)


def test_charbonnier_and_flow_loss_zero_for_a_perfect_flow():
  assert float(losses.charbonnier(np.float32(0.0))) == pytest.approx(1e-6 ** 0.45)
  rng = np.random.default_rng(0)
  frame = rng.uniform(0, 1, (8, 8, 3)).astype(np.float32)
  moved = np.roll(frame, 1, axis=1)              # content moves one pixel right
  frames = np.stack([frame, moved])[None]        # [1, 2, 8, 8, 3]
  flow = np.zeros((1, 1, 8, 8, 2), np.float32)
  flow[..., 0] = 1.0                             # pixel x of frame 0 is at x + 1 in frame 1
  perfect = float(losses.flow_loss(frames, [flow]))
  # NumPy oracle: the warped frame 1 equals frame 0 except in the last column, where x + 1 = 8 is clamped to
  # column 7 of frame 1 (= column 6 of frame 0); the flow is constant, so both smoothness terms are
  # Charbonnier(0) everywhere.
  charbonnier = lambda x: (np.square(x) + 1e-6) ** 0.45
  residual = np.zeros_like(frame)
  residual[:, 7] = moved[:, 7] - frame[:, 7]
  expected = charbonnier(residual).mean() + 0.1 * 2 * charbonnier(0.0)
  assert perfect == pytest.approx(expected, rel=1e-5)
  assert float(losses.flow_loss(frames, [np.zeros_like(flow)])) > 5 * perfect  # the zero flow is much worse


def test_structure_invariance_loss_hand_computed():
  # K = 2 frames, one clip, N = 2 points. Frame 0: offsets of norm 3 and 5 (mean 4), width 8 -> 0.5.
  # Frame 1: offsets of norm 1 and 1 (mean 1), width 4 -> 0.25. L_I = (0.5 - 0.25)^2 / K = 0.03125.
  offsets = np.array([[[[3, 0], [0, 5]], [[1, 0], [0, 1]]]], np.float32)
  p_c = np.array([[[[0, 0], [8, 0]], [[0, 0], [4, 0]]]], np.float32)
  assert float(losses.structure_invariance_loss(offsets, p_c)) == pytest.approx(0.03125, rel=1e-5)


def test_motion_deviation_loss_hand_computed():
  flows = np.zeros((1, 2, 8, 8, 2), np.float32)
  flows[:, :, :, :, 0] = 1.0                     # everything moves +1 in x per frame
  first = np.array([[[2.0, 2.0]]], np.float32)
  last = np.array([[[5.0, 6.0]]], np.float32)   # tracked to (4, 2): error (1, 4) -> 17
  assert float(losses.motion_deviation_loss(flows, first, last)) == pytest.approx(17.0)


def test_pseudo_heatmap_loss_and_student_target():
  heat = np.zeros((1, 1, 4, 4, 1), np.float32)
  target = np.array([[[[1.0, 2.0]]]], np.float32)
  mse = ObjectiveConfig(heatmap_loss="mse", heatmap_sigma=1.0, foreground_weight=0.0)
  expected = np.mean(_np(losses.gaussian_heatmaps(target, 4, 4, 1.0)) ** 2)
  assert float(losses.pseudo_heatmap_loss(heat, target, mse)) == pytest.approx(expected)
  softmax = ObjectiveConfig(heatmap_loss="softmax", heatmap_sigma=1.0, integral_weight=0.5)
  assert float(losses.pseudo_heatmap_loss(heat, target, softmax)) == pytest.approx(
      _np(losses.heatmap_softmax_loss(heat[0], target[0], 1.0, 0.5)))
  np.testing.assert_allclose(_np(losses.student_target(np.float32(10.0), np.float32(0.0), 0.6)), 6.0)


def _numpy_wing(x, width, epsilon):
  x = abs(x)
  return width * np.log(1 + x / epsilon) if x < width else x - width + width * np.log(1 + width / epsilon)


def _numpy_softmax_loss(logits, points, sigma, integral_weight, point_weights=None, rho=abs):
  """NumPy oracle of losses.heatmap_softmax_loss for one map [h, w, N] (`point_weights` [N]: each landmark's
  terms weighted, the mean still over all N; `rho` the integral term's penalty of one coordinate's error)."""
  h, w, n = logits.shape
  point_weights = np.ones(n) if point_weights is None else point_weights
  ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
  total_kl, total_integral = 0.0, 0.0
  for k in range(n):
    z = logits[:, :, k].astype(np.float64)
    p = np.exp(z - z.max())
    p /= p.sum()
    cx, cy = np.clip(points[k, 0], 0, w - 1), np.clip(points[k, 1], 0, h - 1)
    q = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma ** 2))
    q /= q.sum()
    total_kl += point_weights[k] * np.sum(q * (np.log(q + 1e-12) - np.log(p)))
    total_integral += point_weights[k] * (rho((p * xs).sum() - points[k, 0]) + rho((p * ys).sum() - points[k, 1]))
  return total_kl / n + integral_weight * total_integral / (2 * n)


def test_heatmap_softmax_loss_matches_numpy_oracle():
  rng = np.random.default_rng(0)
  logits = rng.normal(size=(6, 7, 3)).astype(np.float32)
  points = np.array([[1.5, 2.0], [5.2, 4.9], [8.0, -1.0]], np.float32)  # the last one outside the map
  got = float(losses.heatmap_softmax_loss(logits[None], points[None], 1.2, 0.5))
  assert got == pytest.approx(_numpy_softmax_loss(logits, points, 1.2, 0.5), rel=1e-5)


def test_wing_is_log_shaped_below_its_width_and_l1_beyond():
  errors = np.array([-7.0, -2.0, -0.3, 0.0, 0.25, 1.9, 2.0, 3.5], np.float32)
  np.testing.assert_allclose(_np(losses.wing(errors, 2.0, 0.5)), [_numpy_wing(x, 2.0, 0.5) for x in errors],
                             rtol=1e-6, atol=1e-6)
  # Continuous at the width, with slope 1 beyond it and width / epsilon = 4 at 0.
  below, above = _np(losses.wing(np.float32([2.0 - 1e-3, 2.0 + 1e-3]), 2.0, 0.5))
  assert above - below == pytest.approx(2e-3 * (2.0 / 2.5 + 1.0) / 2, abs=2e-5)
  assert float(losses.wing(np.float32(1e-3), 2.0, 0.5)) == pytest.approx(4e-3, rel=1e-3)


def test_heatmap_softmax_loss_with_a_wing_integral_matches_numpy_oracle():
  rng = np.random.default_rng(1)
  logits = rng.normal(size=(6, 7, 3)).astype(np.float32)
  points = np.array([[1.5, 2.0], [5.2, 4.9], [8.0, -1.0]], np.float32)  # errors below and beyond the width
  got = float(losses.heatmap_softmax_loss(logits[None], points[None], 1.2, 0.5, wing_width=2.0, wing_epsilon=0.5))
  want = _numpy_softmax_loss(logits, points, 1.2, 0.5, rho=lambda x: _numpy_wing(x, 2.0, 0.5))
  assert got == pytest.approx(want, rel=1e-5)
  assert got != pytest.approx(_numpy_softmax_loss(logits, points, 1.2, 0.5), rel=1e-3)


def test_wing_width_is_refused_with_the_mse_loss():
  """--wing_width shapes the softmax loss's integral term; with --heatmap_loss=mse (no such term) it is an error."""
  for args, accepted in ((["--wing_width=2"], True), (["--wing_width=2", "--heatmap_loss=mse"], False),
                         (["--heatmap_loss=mse"], True)):
    code = f"from absl import flags; from tsal_tf import flag_defs; flags.FLAGS(['train', *{args!r}])"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert (result.returncode == 0) is accepted, (args, result.stderr)
    assert accepted or "--wing_width shapes the integral term" in result.stderr, result.stderr


def test_point_weights_drop_landmarks_from_the_heatmap_losses():
  rng = np.random.default_rng(0)
  logits = rng.normal(size=(6, 7, 3)).astype(np.float32)
  points = np.array([[1.5, 2.0], [5.2, 4.9], [3.0, 3.0]], np.float32)
  keep = np.array([1.0, 0.0, 1.0], np.float32)
  got = float(losses.heatmap_softmax_loss(logits[None], points[None], 1.2, 0.5, point_weights=keep[None]))
  assert got == pytest.approx(_numpy_softmax_loss(logits, points, 1.2, 0.5, keep), rel=1e-5)
  assert float(losses.heatmap_softmax_loss(logits[None], points[None], 1.2, 0.5, point_weights=np.ones((1, 3),
               np.float32))) == pytest.approx(float(losses.heatmap_softmax_loss(logits[None], points[None], 1.2, 0.5)))
  # MSE: a dropped map's pixels add 0 to the mean over all pixels.
  target = _np(losses.gaussian_heatmaps(points, 6, 7, 1.0))
  expected = np.mean(np.square(logits - target) * keep)
  assert float(losses.heatmap_mse(logits[None], target[None], point_weights=keep[None])) == pytest.approx(
      expected, rel=1e-5)


def test_heatmap_softmax_loss_is_zero_kl_at_the_target_and_soft_argmax_is_exact():
  # Logits = log of the normalised target: the KL is 0 and soft-argmax is the target's mean, which for a
  # Gaussian centred on a pixel far from the border is the point itself.
  point = np.array([[[6.0, 5.0]]], np.float32)
  target = _np(losses.gaussian_heatmaps(point, 12, 13, 1.0))
  logits = np.log(target / target.sum()).astype(np.float32)
  np.testing.assert_allclose(_np(decoders.soft_argmax(logits)), point, atol=1e-4)
  assert float(losses.heatmap_softmax_loss(logits, point, 1.0, 0.0)) == pytest.approx(0.0, abs=1e-5)


@pytest.mark.parametrize("method", ["soft_argmax", "argmax"])
def test_decode_lhr_reads_a_log_gaussian_at_its_centre(method):
  # Logits = a log-Gaussian: its soft-argmax is its mean (far from the border), and the parabola of the
  # argmax decoder is exact for it.
  point = np.array([[[4.3, 6.8]]], np.float32)
  logits = np.log(_np(losses.gaussian_heatmaps(point, 12, 12, 1.0)) + 1e-30).astype(np.float32)
  coords, confidence = decoders.decode_lhr(logits, method)
  np.testing.assert_allclose(_np(coords), point, atol=1e-4)
  peak = np.exp(logits.max()) / np.exp(logits).sum()
  np.testing.assert_allclose(_np(confidence), [[peak]], rtol=1e-5)


@pytest.mark.parametrize("epoch, expected", [(0, math.exp(-5)), (30, math.exp(-1.25)), (60, 1.0), (100, 1.0),
                                             (125, math.exp(-3.125)), (140, math.exp(-12.5))])
def test_omega_ramp(epoch, expected):
  assert float(losses.omega(epoch)) == pytest.approx(expected, rel=1e-5)


def test_foreground_weighted_heatmap_mse():
  target = np.array([[[[1.0]], [[0.05]]]], np.float32)   # one pixel above 0.1, one below
  predicted = np.zeros_like(target)
  # weights 1 + 10 = 11 and 1: mean(11 * 1 + 1 * 0.0025) over 2 pixels
  assert float(losses.heatmap_mse(predicted, target, 10.0)) == pytest.approx((11.0 + 0.0025) / 2)


def test_ssim_dissimilarity_matches_a_numpy_oracle():
  rng = np.random.default_rng(0)
  x = rng.uniform(0, 1, (2, 6, 7, 3)).astype(np.float32)
  y = np.clip(x + rng.normal(0, 0.2, x.shape), 0, 1).astype(np.float32)
  assert float(losses.ssim_dissimilarity(x, x)) == pytest.approx(0.0, abs=1e-6)

  def window_mean(t):  # 3x3 valid box filter
    return np.mean([t[:, i:i + t.shape[1] - 2, j:j + t.shape[2] - 2] for i in range(3) for j in range(3)], axis=0)

  mu_x, mu_y = window_mean(x), window_mean(y)
  s_x, s_y = window_mean(x * x) - mu_x ** 2, window_mean(y * y) - mu_y ** 2
  s_xy = window_mean(x * y) - mu_x * mu_y
  c1, c2 = 0.01 ** 2, 0.03 ** 2
  ssim = (2 * mu_x * mu_y + c1) * (2 * s_xy + c2) / ((mu_x ** 2 + mu_y ** 2 + c1) * (s_x + s_y + c2))
  expected = np.clip((1 - ssim) / 2, 0, 1).mean()
  assert float(losses.ssim_dissimilarity(x, y)) == pytest.approx(expected, rel=1e-4)
