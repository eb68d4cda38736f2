"""infer: a run's network sees video frames framed as in its training."""

import dataclasses

import numpy as np

from tsal_tf import infer
from tsal_tf.data import augment, schemes
from tsal_tf.evaluation import predict_images
from tsal_tf.model import network
from tsal_tf.model.config import NetworkConfig

CONFIG = NetworkConfig(input_size=32, widths=(8, 16), head_width=8, flow_widths=(8, 16), flow_scales=2)


def test_run_predictor_crops_at_the_networks_margin():
  predictor = infer.RunPredictor.__new__(infer.RunPredictor)  # the network without a run directory
  predictor.teacher = network.build_network(dataclasses.replace(CONFIG, crop_margin=1.1), "teacher")
  predictor.gamma = 0.8
  frame = np.random.default_rng(4).integers(0, 256, (64, 80, 3), dtype=np.uint8)
  box = (20.0, 14.0, 52.0, 50.0)

  def predicted_at(margin):
    transform = augment.centre_transform(box, 32, margin)
    crop = augment.warp_image(frame, transform)
    return augment.crop_to_source(predict_images(predictor.teacher, crop[None])["fused"][0], transform, schemes.IBUG68)

  got = predictor(frame, box)
  np.testing.assert_allclose(got, predicted_at(1.1), atol=1e-4)
  assert np.abs(got - predicted_at(augment.CROP_MARGIN)).max() > 0.5
