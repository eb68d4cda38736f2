import numpy as np
import pytest

from tsal_tf import metrics


def _face(pupil_distance):
  points = np.zeros((68, 2))
  points[42:48, 0] = pupil_distance
  points[45, 0] = pupil_distance + 3.0
  points[36, 0] = -3.0
  points[36:42, 0] -= points[36:42, 0].mean()
  points[42:48, 0] += pupil_distance - points[42:48, 0].mean()
  return points


def test_nme_inter_pupil_hand_computed():
  gt = _face(10.0)
  pred = gt.copy()
  pred[0] += [3.0, 4.0]          # one point off by 5 px
  # mean error = 5 / 68, normalised by pupil distance 10
  assert metrics.nme(pred, gt) == pytest.approx(5 / 68 / 10)
  corner = np.linalg.norm(gt[36] - gt[45])
  assert metrics.nme(pred, gt, "inter_ocular") == pytest.approx(5 / 68 / corner)


def test_face_size_and_box_diagonal():
  gt = np.array([[0.0, 0.0], [4.0, 9.0]] * 34)
  pred = gt + [1.0, 0.0]
  assert metrics.nme(pred, gt, "face_size") == pytest.approx(1 / 6)
  assert metrics.nme(pred, gt, "box_diagonal") == pytest.approx(1 / np.sqrt(97))
  assert metrics.nme(pred, gt, "face_size", box=np.array([0, 0, 2, 8])) == pytest.approx(1 / 4)
  with pytest.raises(ValueError, match="unknown normalizer"):
    metrics.nme(pred, gt, "ears")


def test_auc_and_failure_rate_hand_computed():
  # All errors 0 -> AUC 1; all at 0.04 -> the CED is 0 then 1 at half of [0, 0.08]: AUC about 0.5.
  assert metrics.auc(np.zeros(10)) == pytest.approx(1.0)
  assert metrics.auc(np.full(10, 0.04)) == pytest.approx(0.5, abs=1e-3)
  assert metrics.auc(np.full(10, 0.5)) == 0.0
  errors = np.array([0.01, 0.02, 0.09, 0.2])
  assert metrics.failure_rate(errors) == 0.5
  # CED: a step at 0.01 (1/4) and 0.02 (2/4): area = (0.07 * 0.5 + 0.01 * 0.25) / 0.08 up to the grid.
  assert metrics.auc(errors) == pytest.approx((0.06 * 0.5 + 0.01 * 0.25) / 0.08, abs=2e-3)


def test_per_video_and_nan_points():
  gt = np.stack([_face(10.0)] * 3)
  pred = gt + [[[1.0, 0.0]]]
  gt_nan = gt.copy()
  gt_nan[2, :10] = np.nan
  errors = metrics.per_face_nme(pred, gt_nan)
  np.testing.assert_allclose(errors, 0.1)
  table = metrics.per_video(errors, ["a", "a", "b"])
  assert table["a"]["count"] == 2 and table["b"]["nme"] == pytest.approx(0.1)


def test_ced_plot_is_written(tmp_path):
  path = tmp_path / "ced.png"
  metrics.plot_ced({"teacher": np.array([0.01, 0.03])}, str(path))
  assert path.read_bytes()[:4] == b"\x89PNG"


def test_jitter_of_constant_and_oscillating_tracks():
  face = _face(10.0)
  corner = np.linalg.norm(face[36] - face[45])
  constant = np.stack([face] * 5)
  assert metrics.jitter(constant) == 0.0
  # +a / -a alternating in x: every step moves every point by 2a.
  a = 0.5
  oscillating = np.stack([face + [(-1) ** t * a, 0.0] for t in range(6)])
  assert metrics.jitter(oscillating) == pytest.approx(2 * a / corner)
  # Against ground truth that moves with the same oscillation there is no jitter; a steady bias has none either.
  assert metrics.jitter(oscillating + [3.0, 1.0], ground_truth=oscillating) == pytest.approx(0.0, abs=1e-12)
  with pytest.raises(ValueError, match="T >= 2"):
    metrics.jitter(face[None])

