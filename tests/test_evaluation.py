"""Evaluation read-outs: per-subset metrics and the flip test."""

import numpy as np
import pytest

from tsal_tf import evaluation
from tsal_tf import metrics
from tsal_tf.data import schemes
from tsal_tf.model import network
from tsal_tf.model.config import NetworkConfig


def test_face_metrics_reports_all_faces_and_each_subset():
  rng = np.random.default_rng(0)
  truth = rng.uniform(20, 100, size=(5, 68, 2)).astype(np.float32)
  predictions = {source: truth + rng.normal(0, scale, truth.shape).astype(np.float32)
                 for source, scale in (("p_M", 1.0), ("p_C", 2.0), ("fused", 1.5))}
  subsets = ["helen", "helen", "lfpw", "lfpw", "lfpw"]
  report = evaluation.face_metrics(predictions, truth, subsets, ("inter_pupil",))
  assert set(report) == {"all", "helen", "lfpw"}
  errors = metrics.per_face_nme(predictions["p_C"], truth, "inter_pupil")
  assert report["all"]["inter_pupil"]["p_C"]["nme"] == pytest.approx(errors.mean())
  assert report["helen"]["inter_pupil"]["p_C"]["nme"] == pytest.approx(errors[:2].mean())
  assert report["lfpw"]["inter_pupil"]["p_C"]["count"] == 3
  assert set(evaluation.face_metrics(predictions, truth, ["a"] * 5, ("inter_ocular",))) == {"all"}


def test_compiled_detect_is_the_eager_detect():
  # Evaluation and infer read the network through detect_numpy (the backend's compiled predict function);
  # in float32 it must give detect's outputs, whatever the batch size it is traced for.
  net = network.build_network(NetworkConfig(input_size=32, widths=(8, 16), head_width=8, lhr_width=8,
                                            flow_widths=(8, 16), flow_scales=2), "student")
  for batch in (3, 1):
    images = np.random.default_rng(batch).uniform(size=(batch, 32, 32, 3)).astype(np.float32)
    eager, compiled = net.detect(images), net.detect_numpy(images)
    assert set(compiled) == set(eager) == {"heatmaps", "centre", "offsets"}
    for key, value in eager.items():
      assert isinstance(compiled[key], np.ndarray)
      np.testing.assert_allclose(compiled[key], np.asarray(value), rtol=1e-5, atol=1e-5)


def test_flip_test_is_mirror_equivariant_and_differs_from_one_view():
  """The flip-test estimate of an image's mirror, mapped back, is the estimate of the image itself (the two
  views swap roles); without the flip test a random network is not mirror-symmetric."""
  net = network.build_network(NetworkConfig(input_size=32, widths=(8, 16), head_width=8, lhr_width=8,
                                            flow_widths=(8, 16), flow_scales=2), "student")
  images = np.random.default_rng(1).integers(0, 255, size=(3, 32, 32, 3), dtype=np.uint8)
  mirrored = images[:, :, ::-1]
  both = evaluation.predict_images(net, images, 0.8, flip_test=True)
  both_mirrored = evaluation.predict_images(net, mirrored, 0.8, flip_test=True)
  for key in ("p_M", "p_C", "fused"):
    np.testing.assert_allclose(schemes.flip_landmarks(both_mirrored[key], 32, schemes.IBUG68), both[key], atol=1e-4)
  single = evaluation.predict_images(net, images, 0.8)
  assert np.max(np.abs(single["p_M"] - both["p_M"])) > 1e-3


def test_flip_test_mirror_shift_moves_the_mirrored_view_right():
  # predict_images averages the image's view and the mirrored view mapped back with + (mirror_shift, 0): the
  # estimate moves by exactly half the shift in x, not at all in y (sign and size of the label-offset fix).
  net = network.build_network(NetworkConfig(input_size=32, widths=(8, 16), head_width=8, lhr_width=8,
                                            flow_widths=(8, 16), flow_scales=2), "student")
  images = np.random.default_rng(2).integers(0, 255, size=(2, 32, 32, 3), dtype=np.uint8)
  plain = evaluation.predict_images(net, images, 0.8, flip_test=True)
  shifted = evaluation.predict_images(net, images, 0.8, flip_test=True, mirror_shift=0.6)
  for key in ("p_M", "p_C", "fused"):
    np.testing.assert_allclose(shifted[key] - plain[key], np.broadcast_to([0.3, 0.0], plain[key].shape), atol=1e-4)


def test_one_pass_gives_the_plain_and_the_flip_test_predictions():
  net = network.build_network(NetworkConfig(input_size=32, widths=(8, 16), head_width=8, lhr_width=8,
                                            flow_widths=(8, 16), flow_scales=2), "student")
  images = np.random.default_rng(3).integers(0, 255, size=(5, 32, 32, 3), dtype=np.uint8)
  plain, flipped = evaluation.predict_images_plain_and_flip_test(net, images, 0.8, batch_size=2, mirror_shift=0.4)
  expected = (evaluation.predict_images(net, images, 0.8, batch_size=2),
              evaluation.predict_images(net, images, 0.8, batch_size=2, flip_test=True, mirror_shift=0.4))
  for got, want in zip((plain, flipped), expected):
    assert set(got) == {"p_M", "p_C", "fused", "confidence"}
    for key in got:
      np.testing.assert_allclose(got[key], want[key], atol=1e-5)


def test_report_prefix_keeps_evaluations_under_other_choices_apart():
  data = ["../shared/data/300w_helen_test/", "../shared/data/300w_lfpw_test"]
  assert evaluation.report_prefix("runs/a", data) == "runs/a/eval_300w_helen_test+300w_lfpw_test"
  assert (evaluation.report_prefix("runs/a", data[:1], "inter_ocular", True, "runs/a/checkpoints/ckpt-40.npz", 50)
          == "runs/a/eval_300w_helen_test_inter_ocular_flip_test_ckpt-40_first50")


@pytest.mark.parametrize("margin", [1.35, 1.1])
def test_evaluation_crops_frame_the_face_at_the_networks_margin(margin):
  # centre_transform maps the landmark box's longer side, of length L, to S / margin crop pixels and its
  # centre to the crop's centre (S - 1) / 2: in the still images and in the first frame of the still clips.
  from runners import ROOT
  data = evaluation.evaluation_data(f"{ROOT}/../shared/data/300w_lfpw_test", 32, 2, 68, limit=3,
                                    crop_margin=margin)
  for points in (data.truth, data.tracks[:, 0]):
    low, high = points.min(axis=1), points.max(axis=1)
    np.testing.assert_allclose((high - low).max(axis=1), 32 / margin, rtol=1e-4)
    np.testing.assert_allclose(0.5 * (low + high), 15.5, atol=1e-3)
