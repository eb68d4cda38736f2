"""Video landmarks (infer): framed as the network was trained, and a detector's box refined by a prediction."""

import dataclasses

import cv2
import keras
import numpy as np
import pytest

from tsal_tf import video_landmarks
from tsal_tf.data import augment, schemes
from tsal_tf.evaluation import predict_images
from tsal_tf.model import network
from tsal_tf.model.config import NetworkConfig

CONFIG = NetworkConfig(input_size=32, widths=(8, 16), head_width=8, flow_widths=(8, 16), flow_scales=2)


FRAME = np.random.default_rng(4).integers(0, 256, (64, 80, 3), dtype=np.uint8)
BOX = (20.0, 14.0, 52.0, 50.0)


def _predicted_in_frame(net, margin, **predict_kwargs):
  """predict_images' fused points on FRAME's crop around BOX at `margin`, mapped back to the frame (the oracle)."""
  transform = augment.centre_transform(BOX, 32, margin)
  crop = augment.warp_image(FRAME, transform)
  return augment.crop_to_source(predict_images(net, crop[None], **predict_kwargs)["fused"][0], transform,
                                schemes.IBUG68)


def test_run_predictor_crops_at_the_networks_margin():
  keras.utils.set_random_seed(0)  # an untrained network whose points are not all at the crop's centre
  net = network.build_network(dataclasses.replace(CONFIG, crop_margin=1.1), "teacher")
  got = video_landmarks.RunPredictor(net, gamma=0.8)(FRAME, BOX)
  np.testing.assert_allclose(got, _predicted_in_frame(net, 1.1), atol=1e-4)
  assert np.abs(got - _predicted_in_frame(net, augment.CROP_MARGIN)).max() > 0.5


def test_run_predictor_flip_test_is_evaluations_flip_test():
  keras.utils.set_random_seed(0)
  net = network.build_network(dataclasses.replace(CONFIG, crop_margin=1.1), "teacher")
  got = video_landmarks.RunPredictor(net, gamma=0.8, flip_test=True, mirror_shift=0.75)(FRAME, BOX)
  np.testing.assert_allclose(got, _predicted_in_frame(net, 1.1, flip_test=True, mirror_shift=0.75), atol=1e-4)
  assert np.abs(got - _predicted_in_frame(net, 1.1)).max() > 0.1  # the mirror view changed the prediction


class _RecordingPredictor:
  """Predicts a fixed shape in the middle half of whatever box it is given, and records the boxes."""

  def __init__(self):
    self.boxes = []
    self.shape = np.random.default_rng(5).uniform(0.25, 0.75, (68, 2))

  def __call__(self, frame, box):
    self.boxes.append(tuple(float(v) for v in box))
    x1, y1, x2, y2 = box
    return np.array([x1, y1]) + self.shape * np.array([x2 - x1, y2 - y1])


@pytest.mark.parametrize("redetect_every", [1, 0])
def test_a_detector_box_is_replaced_by_the_box_of_a_prediction_on_it(tmp_path, monkeypatch, redetect_every):
  for t in range(3):
    cv2.imwrite(str(tmp_path / f"{t:03d}.png"), np.zeros((60, 80, 3), np.uint8))
  detected = (10.0, 8.0, 50.0, 52.0)
  monkeypatch.setattr(video_landmarks.face_detector, "detect_face", lambda frame: detected)
  predictor = _RecordingPredictor()
  raw, smoothed = video_landmarks.run(str(tmp_path), predictor, smoothing=0.0, redetect_every=redetect_every)
  refined = tuple(schemes.landmark_box(predictor(None, detected)))
  predictor.boxes.pop()
  # Frame 0: the detector's box, then the box of that prediction. Later frames: the same pair where the detector
  # runs again, otherwise the box of the previous frame's landmarks alone.
  tracked = [tuple(schemes.landmark_box(points)) for points in raw[:2]]
  expected = [detected, refined] + ([detected, refined] * 2 if redetect_every else tracked)
  np.testing.assert_allclose(predictor.boxes, expected, rtol=1e-6)
