"""Export: geometry of the serving crop, fresh-process loading with stock TensorFlow, saved_model_cli, REST JSON."""

import dataclasses
import json
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tsal_tf import export
from tsal_tf.data import augment
from tsal_tf.model import network
from tsal_tf.model.config import NetworkConfig

from runners import ROOT
CONFIG = NetworkConfig(input_size=32, widths=(8, 16), head_width=8, flow_widths=(8, 16), flow_scales=2)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
  teacher = network.build_network(CONFIG, "teacher")
  base = tmp_path_factory.mktemp("serving")
  path = export.export(teacher, str(base), "tsal", 1)
  return teacher, path


def test_serving_crop_matches_the_training_crop():
  # crop pixel u -> image pixel origin + scale * u must equal the inverse of the training similarity crop.
  box = np.array([[20.0, 30.0, 80.0, 100.0]], np.float32)
  _, origin, scale = export._crop_boxes(tf.constant(box), tf.constant([200.0]), tf.constant([160.0]), 32.0, 1.35)
  matrix = augment.similarity_matrix(0.5 * (box[0, :2] + box[0, 2:]), 1.35 * 70.0, 32)
  crop_points = np.array([[0.0, 0.0], [31.0, 31.0], [10.5, 20.25]])
  expected = augment.apply_affine(crop_points, augment.invert_affine(matrix))
  got = origin.numpy()[0] + scale.numpy()[0] * crop_points
  np.testing.assert_allclose(got, expected, atol=1e-3)


def test_serving_crops_at_the_networks_margin(tmp_path):
  # A network trained on crops of margin 1.1 is served on crops of margin 1.1: the endpoint's landmarks are the
  # in-process prediction on that crop, mapped back to the image, and not the one on a crop of the default.
  keras.utils.set_random_seed(0)  # an untrained network whose points are not all at the crop's centre
  teacher = network.build_network(dataclasses.replace(CONFIG, crop_margin=1.1), "teacher")
  serve = tf.saved_model.load(export.export(teacher, str(tmp_path), "tsal", 1)).signatures["serving_default"]
  image = np.random.default_rng(3).integers(0, 256, (1, 64, 80, 3), dtype=np.uint8)
  box = np.array([[20.0, 14.0, 52.0, 50.0]], np.float32)
  got = serve(images=tf.constant(image), boxes=tf.constant(box))["landmarks"].numpy()

  def predicted_at(margin):
    normalised, origin, scale = export._crop_boxes(tf.constant(box), tf.constant([64.0]), tf.constant([80.0]), 32.0,
                                                   margin)
    crops = tf.image.crop_and_resize(image.astype(np.float32) / 255.0, normalised, [0], [32, 32]).numpy()
    return origin.numpy()[:, None] + scale.numpy()[:, None] * predict_images(teacher, crops * 255.0)["fused"]

  from tsal_tf.evaluation import predict_images
  np.testing.assert_allclose(got, predicted_at(1.1), atol=2e-2)
  assert np.abs(got - predicted_at(augment.CROP_MARGIN)).max() > 0.5


def test_flip_tested_serving_is_evaluations_flip_test(tmp_path):
  # export --flip_test: every source of the endpoint is evaluate --flip_test's on the serving crop (mirror shift
  # included, as for a run trained with --label_x_offset), mapped back to the image; the plain prediction is not.
  keras.utils.set_random_seed(0)
  teacher = network.build_network(dataclasses.replace(CONFIG, crop_margin=1.1), "teacher")
  shift = 0.75
  path = export.export(teacher, str(tmp_path), "tsal", 1, flip_test=True, mirror_shift=shift)
  serve = tf.saved_model.load(path).signatures["serving_default"]
  image = np.random.default_rng(3).integers(0, 256, (2, 64, 80, 3), dtype=np.uint8)
  boxes = np.array([[20.0, 14.0, 52.0, 50.0], [10.0, 8.0, 60.0, 56.0]], np.float32)
  got = serve(images=tf.constant(image), boxes=tf.constant(boxes))
  normalised, origin, scale = export._crop_boxes(tf.constant(boxes), tf.constant([64.0] * 2), tf.constant([80.0] * 2),
                                                 32.0, 1.1)
  crops = 255.0 * tf.image.crop_and_resize(image.astype(np.float32) / 255.0, normalised, [0, 1], [32, 32]).numpy()

  def in_image(points):
    return origin.numpy()[:, None] + scale.numpy()[:, None] * points

  from tsal_tf.evaluation import predict_images
  expected = predict_images(teacher, crops, flip_test=True, mirror_shift=shift)
  for name, key in (("landmarks", "fused"), ("p_M", "p_M"), ("p_C", "p_C")):
    np.testing.assert_allclose(got[name].numpy(), in_image(expected[key]), atol=2e-2, err_msg=name)
  np.testing.assert_allclose(got["confidence"].numpy(), expected["confidence"], atol=1e-4)
  plain = in_image(predict_images(teacher, crops)["fused"])
  assert np.abs(got["landmarks"].numpy() - plain).max() > 0.1


def test_serving_without_a_box_resizes_the_whole_image_with_pixel_centres():
  # x = (u + 0.5) * W / S - 0.5, the convention of cv2.resize and of the training crops.
  none = tf.fill([1, 4], export.NO_BOX)
  _, origin, scale = export._crop_boxes(none, tf.constant([100.0]), tf.constant([256.0]), 32.0, 1.35)
  np.testing.assert_allclose(scale.numpy()[0], [256.0 / 32, 100.0 / 32], rtol=1e-6)
  np.testing.assert_allclose(origin.numpy()[0], [0.5 * 256 / 32 - 0.5, 0.5 * 100 / 32 - 0.5], atol=1e-5)


def test_version_folder_is_not_overwritten(exported):
  teacher, path = exported
  with pytest.raises(FileExistsError, match="choose another --version"):
    export.export(teacher, os.path.dirname(os.path.dirname(path)), "tsal", 1)


def test_loads_in_a_fresh_process_with_stock_tensorflow_only(exported, tmp_path):
  teacher, path = exported
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (2, 40, 40, 3), dtype=np.uint8)
  np.save(tmp_path / "images.npy", images)
  script = f"""
import sys, numpy as np, tensorflow as tf
model = tf.saved_model.load({path!r})
images = np.load({str(tmp_path / 'images.npy')!r})
out = model.signatures["serving_default"](images=tf.constant(images), boxes=tf.fill([2, 4], -1.0))
moved = model.signatures["track"](previous=tf.constant(images), current=tf.constant(images),
                                  landmarks=out["landmarks"])
np.save({str(tmp_path / 'landmarks.npy')!r}, out["landmarks"].numpy())
np.save({str(tmp_path / 'tracked.npy')!r}, moved["landmarks"].numpy())
assert not any(m.startswith("tsal_tf") for m in sys.modules), "project code was imported"
"""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TSAL_PURE_TF_OPS="1")
  result = subprocess.run([sys.executable, "-c", script], cwd=str(tmp_path), env=env, capture_output=True,
                          text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  landmarks = np.load(tmp_path / "landmarks.npy")
  assert landmarks.shape == (2, 68, 2) and np.isfinite(landmarks).all()
  # Same numbers as the in-process model on the same crop: the whole 40x40 image resized to 32x32 with pixel
  # centres, x = (u + 0.5) * 40 / 32 - 0.5, i.e. crop pixels 0 and 31 sample image x = 0.125 and 38.875.
  lo, hi = 0.125 / 39.0, 38.875 / 39.0
  crops = tf.image.crop_and_resize(images.astype(np.float32) / 255.0, [[lo, lo, hi, hi]] * 2, [0, 1], [32, 32])
  from tsal_tf.evaluation import predict_images
  expected = 0.125 + 1.25 * predict_images(teacher, (crops.numpy() * 255.0))["fused"]
  np.testing.assert_allclose(landmarks, expected, atol=2e-2)
  # A zero-motion pair tracks (almost) nowhere: the untrained flow head is initialised to zero.
  np.testing.assert_allclose(np.load(tmp_path / "tracked.npy"), landmarks, atol=1e-3)


def test_saved_model_cli_runs_it(exported, tmp_path):
  _, path = exported
  np.save(tmp_path / "images.npy", np.zeros((1, 48, 48, 3), np.uint8))
  np.save(tmp_path / "boxes.npy", np.array([[8, 8, 40, 40]], np.float32))
  cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
  show = subprocess.run([cli, "show", "--dir", path, "--all"], capture_output=True, text=True, timeout=300)
  assert "signature_def['serving_default']" in show.stdout and "signature_def['track']" in show.stdout
  run = subprocess.run([cli, "run", "--dir", path, "--tag_set", "serve", "--signature_def", "serving_default",
                        "--inputs", f"images={tmp_path}/images.npy;boxes={tmp_path}/boxes.npy"],
                       capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
  assert run.returncode == 0, run.stderr[-3000:]
  assert "Result for output key landmarks" in run.stdout


def test_readme_rest_example_matches_the_signature(exported):
  _, path = exported
  readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
  block = re.search(r"```json\n(\{.*?\})\n```", readme, re.S)
  assert block, "README needs the TF Serving REST request as a ```json block"
  request = json.loads(block.group(1))
  signature = tf.saved_model.load(path).signatures[request["signature_name"]]
  specs = signature.structured_input_signature[1]
  instance = request["instances"][0]
  assert set(instance) == set(specs)
  for name, value in instance.items():
    array = np.asarray(value)
    spec = specs[name]
    assert array.ndim + 1 == len(spec.shape), name  # instances drop the batch dimension
    assert all(s is None or s == d for s, d in zip(spec.shape[1:], array.shape)), name
    kind = "i" if spec.dtype.is_integer else "f"
    assert array.dtype.kind in (kind, "i"), name


@pytest.mark.parametrize("images, boxes, message", [
    (np.zeros((1, 8, 8, 3), np.float32), np.zeros((1, 4), np.float32), "expected to be a uint8 tensor"),
    (np.zeros((1, 8, 8, 1), np.uint8), np.zeros((1, 4), np.float32), "must have 3 channels"),
    (np.zeros((0, 8, 8, 3), np.uint8), np.zeros((0, 4), np.float32), "empty batch"),
    (np.zeros((2, 8, 8, 3), np.uint8), np.zeros((1, 4), np.float32), "one per image"),
])
def test_bad_input_gives_a_clear_error(exported, images, boxes, message):
  _, path = exported
  serve = tf.saved_model.load(path).signatures["serving_default"]
  with pytest.raises(tf.errors.InvalidArgumentError, match=message):
    serve(images=tf.constant(images), boxes=tf.constant(boxes))
