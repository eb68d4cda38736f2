"""Export the teacher as a TF Serving SavedModel: `python -m tsal_tf.export --run_dir RUN --export_dir DIR`.

Writes `<export_dir>/<model_name>/<version>/` with two signatures, both pure TensorFlow (stock TF Serving
cannot load custom ops, so the export uses the keras.ops reference implementations):

serving_default(images uint8 [N, H, W, 3], boxes float32 [N, 4] (x1, y1, x2, y2); all -1 for "no box")
    -> landmarks [N, P, 2] (fused, input-image pixels, 0-based pixel centres), confidence [N, P],
       p_M [N, P, 2], p_C [N, P, 2].
    With --flip_test, every source is the average of the crop's prediction and its mirror image's, mapped back
    (`decoders.average_with_mirror`, as `evaluate --flip_test`): twice the compute.
    With a box, the face is cropped around it with the network's training margin (side = crop_margin *
    max(w, h), square, centred on the box; NetworkConfig.crop_margin); with no box (-1s) the whole image is
    taken as the crop (send square face crops with about that margin: the face spanning ~1/crop_margin of the
    side).
track(previous uint8 [N, H, W, 3], current uint8 [N, H, W, 3], landmarks float32 [N, P, 2])
    -> landmarks [N, P, 2]: the previous frame's landmarks moved by the teacher's motion field (MFE path),
       both frames cropped around the tight box of the given landmarks.
"""

import os

from absl import app
from absl import flags

from tsal_tf import cli  # first: quiets TensorFlow's C++ start-up log
from tsal_tf.hardware import PRECISIONS

FLAGS = flags.FLAGS
flags.DEFINE_string("run_dir", None, "Training run directory (flags.txt + checkpoints/).")
flags.DEFINE_string("checkpoint", None, "A specific checkpoint, <run_dir>/checkpoints/ckpt-<step>.npz (default: the latest).")
flags.DEFINE_string("export_dir", None, "Model base path of TF Serving.")
flags.DEFINE_string("model_name", "tsal", "Model name (the folder under --export_dir).")
flags.DEFINE_integer("version", 1, "Model version (the numbered folder).")
flags.DEFINE_enum("precision", "float32", PRECISIONS,
                  "Compute precision of the exported graph, whatever the run trained in: float32 runs fast on any "
                  "CPU; bfloat16 only where the serving hardware has it (GPU, AMX-BF16 / AVX512-BF16 CPUs); auto: "
                  "bfloat16 if this exporting machine has it.")
flags.DEFINE_boolean("flip_test", False, "serving_default averages each face's prediction with its mirror image's "
                     "(as evaluate --flip_test): twice the compute, a steadier read-out.")

NO_BOX = -1.0


def _crop_boxes(boxes, heights, widths, size, margin):
  """Face boxes [N, 4] (x1, y1, x2, y2) -> tf.image.crop_and_resize boxes and the crop->image affine.

  crop_and_resize maps crop pixel u in [0, S-1] linearly onto [lo, hi] (pixel centres); choosing
  hi - lo = (S - 1) * side / S reproduces the training crop (scale S / side about the box centre). Without a
  box the whole image is resized with the same pixel-centre convention as cv2.resize and the training crops,
  x = (u + 0.5) * W / S - 0.5: lo = W / (2 S) - 0.5, hi = W - W / (2 S) - 0.5 (likewise in y).
  Returns (normalised boxes [N, 4] as y1, x1, y2, x2; origin [N, 2]; scale [N]) with x = origin + scale * u.
  """
  import tensorflow as tf
  has_box = tf.reduce_any(boxes != NO_BOX, axis=-1)
  margin_x, margin_y = 0.5 * widths / size - 0.5, 0.5 * heights / size - 0.5
  full = tf.stack([margin_x, margin_y, widths - 1.0 - margin_x, heights - 1.0 - margin_y], axis=-1)
  centre = 0.5 * (boxes[:, :2] + boxes[:, 2:])
  side = margin * tf.reduce_max(boxes[:, 2:] - boxes[:, :2], axis=-1)
  half = 0.5 * (size - 1.0) * side / size
  around = tf.stack([centre[:, 0] - half, centre[:, 1] - half, centre[:, 0] + half, centre[:, 1] + half], -1)
  pixel_box = tf.where(has_box[:, None], around, full)  # x_lo, y_lo, x_hi, y_hi in pixel centres
  denominator_x = tf.maximum(widths - 1.0, 1.0)
  denominator_y = tf.maximum(heights - 1.0, 1.0)
  normalised = tf.stack([pixel_box[:, 1] / denominator_y, pixel_box[:, 0] / denominator_x,
                         pixel_box[:, 3] / denominator_y, pixel_box[:, 2] / denominator_x], axis=-1)
  scale_x = (pixel_box[:, 2] - pixel_box[:, 0]) / (size - 1.0)
  scale_y = (pixel_box[:, 3] - pixel_box[:, 1]) / (size - 1.0)
  return normalised, pixel_box[:, :2], tf.stack([scale_x, scale_y], axis=-1)


def _check_images(images, name):
  import tensorflow as tf
  return [tf.debugging.assert_rank(images, 4, message=f"{name} must be uint8 [N, H, W, 3]"),
          tf.debugging.assert_equal(tf.shape(images)[-1], 3, message=f"{name} must have 3 channels (RGB)"),
          tf.debugging.assert_positive(tf.shape(images)[0], message=f"{name}: empty batch")]


def build_archive(teacher, gamma=0.8, flip_test=False, mirror_shift=0.0):
  """A keras.export.ExportArchive of the teacher with the `serving_default` and `track` endpoints.

  flip_test: serving_default detects on each crop and its mirror image and averages them
  (`decoders.average_with_mirror`; mirror_shift in crop pixels: `evaluation.run_mirror_shift`).
  """
  import keras
  import tensorflow as tf
  from keras import ops
  from tsal_tf import ops as tsal_ops
  from tsal_tf.data import schemes
  from tsal_tf.model import decoders

  size = teacher.config.input_size
  stride = teacher.config.heatmap_stride
  points = teacher.config.num_points
  crop_margin = teacher.config.crop_margin

  def crop(images, boxes):
    shape = tf.shape(images)
    heights = tf.fill([shape[0]], tf.cast(shape[1], tf.float32))
    widths = tf.fill([shape[0]], tf.cast(shape[2], tf.float32))
    normalised, origin, scale = _crop_boxes(boxes, heights, widths, float(size), crop_margin)
    crops = tf.image.crop_and_resize(tf.cast(images, tf.float32) / 255.0, normalised,
                                     tf.range(shape[0]), [size, size])
    return crops, origin, scale

  flip_permutation = schemes.scheme_for(points).flip_permutation

  def to_image(points_hm, origin, scale):
    return origin[:, None, :] + scale[:, None, :] * decoders.to_crop_coords(points_hm, stride)

  def detect(crops):
    """(p_M, p_C) [N, P, 2] in heatmap pixels and confidence [N, P] of crops [N, S, S, 3], flip-tested or not."""
    views = tf.concat([crops, tf.reverse(crops, axis=[2])], axis=0) if flip_test else crops
    with tsal_ops.force_reference():
      outputs = teacher.detect(views)
      p_m, confidence = decoders.decode_lhr(outputs["heatmaps"], teacher.config.heatmap_decoder)
      p_c, _ = decoders.decode_clor(outputs["centre"], outputs["offsets"])
    if not flip_test:
      return p_m, p_c, confidence
    count, width = tf.shape(crops)[0], size // stride
    p_m, p_c = (decoders.average_with_mirror(p[:count], p[count:], width, flip_permutation, mirror_shift / stride)
                for p in (p_m, p_c))
    return p_m, p_c, decoders.average_confidence_with_mirror(confidence[:count], confidence[count:], flip_permutation)

  def serve(images, boxes):
    with tf.control_dependencies(_check_images(images, "images") + [
        tf.debugging.assert_equal(tf.shape(boxes)[0], tf.shape(images)[0],
                                  message="boxes must be [N, 4], one per image")]):
      crops, origin, scale = crop(images, boxes)
    p_m, p_c, confidence = detect(crops)
    p_m, p_c = to_image(p_m, origin, scale), to_image(p_c, origin, scale)
    return {"landmarks": decoders.fuse(p_m, p_c, gamma), "confidence": confidence, "p_M": p_m, "p_C": p_c}

  def track(previous, current, landmarks):
    checks = _check_images(previous, "previous") + _check_images(current, "current") + [
        tf.debugging.assert_equal(tf.shape(previous), tf.shape(current),
                                  message="previous and current frames must have the same shape"),
        tf.debugging.assert_equal(tf.shape(landmarks)[1:], [points, 2],
                                  message=f"landmarks must be [N, {points}, 2]")]
    with tf.control_dependencies(checks):
      boxes = tf.concat([tf.reduce_min(landmarks, axis=1), tf.reduce_max(landmarks, axis=1)], axis=-1)
      previous_crop, origin, scale = crop(previous, boxes)
      current_crop, _, _ = crop(current, boxes)
    start = decoders.to_heatmap_coords((landmarks - origin[:, None, :]) / scale[:, None, :], stride)
    with tsal_ops.force_reference():
      flow = teacher.motion_net(ops.concatenate([previous_crop, current_crop], axis=-1))[0]
      moved = start + tsal_ops.sample_points(flow, start)
    return {"landmarks": to_image(moved, origin, scale)}

  archive = keras.export.ExportArchive()
  archive.track(teacher)
  archive.add_endpoint("serving_default", tf.function(serve), input_signature=[
      tf.TensorSpec([None, None, None, 3], tf.uint8, name="images"),
      tf.TensorSpec([None, 4], tf.float32, name="boxes")])
  archive.add_endpoint("track", tf.function(track), input_signature=[
      tf.TensorSpec([None, None, None, 3], tf.uint8, name="previous"),
      tf.TensorSpec([None, None, None, 3], tf.uint8, name="current"),
      tf.TensorSpec([None, points, 2], tf.float32, name="landmarks")])
  return archive


def export(teacher, export_dir, model_name="tsal", version=1, gamma=0.8, flip_test=False, mirror_shift=0.0):
  """Write the SavedModel to <export_dir>/<model_name>/<version> (into a temporary folder, then renamed);
  flip_test, mirror_shift: as in build_archive."""
  import shutil
  target = os.path.join(export_dir, model_name, str(version))
  if os.path.exists(target):
    raise FileExistsError(f"{target} exists: choose another --version (TF Serving loads the highest)")
  temporary = target + ".partial"
  shutil.rmtree(temporary, ignore_errors=True)
  build_archive(teacher, gamma, flip_test, mirror_shift).write_out(temporary, verbose=False)
  os.replace(temporary, target)
  return target


def main(argv):
  del argv
  from tsal_tf.evaluation import run_mirror_shift
  from tsal_tf.runs import load_networks
  if not FLAGS.run_dir or not FLAGS.export_dir:
    raise app.UsageError("--run_dir and --export_dir are required")
  teacher, _, run_flags = load_networks(FLAGS.run_dir, FLAGS.checkpoint, FLAGS.precision)
  target = export(teacher, FLAGS.export_dir, FLAGS.model_name, FLAGS.version, float(run_flags.get("gamma", 0.8)),
                  FLAGS.flip_test, run_mirror_shift(run_flags, teacher.config.input_size))
  print(f"wrote {target}")


if __name__ == "__main__":
  cli.run(main)
