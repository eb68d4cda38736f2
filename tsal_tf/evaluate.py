"""Evaluate a training run: `python -m tsal_tf.evaluate --run_dir=runs/<name> --data_dir=<300W .pts folder>`.

For the teacher and the student: NME / AUC@t / FR@t of every source on still faces (p_M, p_C, fused), and of
tracking (phi(V, p_l) from the frame-0 ground truth) on clips synthesised from the same faces (or real
300VW clips with --data=300vw, reported per video). Faces are cropped from their ground-truth landmark box
with the training margin (the usual 300W protocol of SAN/SBR). Writes `<output>.json` and a CED plot PNG.
"""

import os
import sys

from absl import app
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_string("run_dir", None, "Training run directory (flags.txt + checkpoints/).")
flags.DEFINE_string("checkpoint", None, "A specific checkpoint prefix (default: the latest in --run_dir).")
flags.DEFINE_string("data_dir", None, "300W-style folder of images + .pts (or a 300VW root with --data=300vw).")
flags.DEFINE_enum("eval_data", "images", ["images", "300vw"], "Evaluation data layout.")
flags.DEFINE_string("output", None, "Output path prefix (default <run_dir>/eval_<data folder name>).")
flags.DEFINE_enum("eval_normalizer", "inter_pupil", ["inter_pupil", "inter_ocular", "face_size", "box_diagonal"],
                  "NME normaliser.")
flags.DEFINE_float("threshold", 0.08, "AUC / failure-rate threshold.")
flags.DEFINE_integer("eval_clip_length", 0, "Frames per evaluation clip (0 = the run's clip_length).")
flags.DEFINE_integer("limit", 0, "Evaluate at most this many faces (0 = all).")
flags.mark_flag_as_required("data_dir")


def read_run_flags(run_dir):
  """The `--name=value` lines of <run_dir>/flags.txt as a dict of strings."""
  path = os.path.join(run_dir, "flags.txt")
  if not os.path.isfile(path):
    raise FileNotFoundError(f"{path}: not a training run directory (no flags.txt)")
  values = {}
  with open(path, encoding="utf-8") as f:
    for line in f:
      line = line.strip()
      if line.startswith("--") and "=" in line:
        name, value = line[2:].split("=", 1)
        values[name] = value
      elif line.startswith("--no"):
        values[line[4:]] = "false"
      elif line.startswith("--"):
        values[line[2:]] = "true"
  return values


def network_config_from(run_flags, num_points=68):
  from tsal_tf.model.config import NetworkConfig
  ints = lambda key: tuple(int(v) for v in run_flags[key].split(","))
  return NetworkConfig(input_size=int(run_flags["input_size"]), num_points=num_points,
                       heatmap_stride=int(run_flags["heatmap_stride"]), widths=ints("widths"),
                       head_width=int(run_flags["head_width"]), flow_widths=ints("flow_widths"),
                       flow_scales=int(run_flags["flow_scales"]))


def load_networks(run_dir, checkpoint=None):
  """(teacher, student, run_flags) restored from a run's checkpoint."""
  import tensorflow as tf
  from tsal_tf.model import network
  run_flags = read_run_flags(run_dir)
  config = network_config_from(run_flags)
  teacher = network.build_network(config, "teacher")
  student = network.build_network(config, "student")
  path = checkpoint or tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints"))
  if path is None:
    raise FileNotFoundError(f"{run_dir}/checkpoints: no checkpoint to evaluate")
  tf.train.Checkpoint(teacher=teacher, student=student).restore(path).expect_partial()
  return teacher, student, run_flags


def evaluate_run(run_dir, data_dir, normalizer="inter_pupil", threshold=0.08, clip_length=0, limit=0,
                 eval_data="images", checkpoint=None):
  """Metrics dict {role: {source: summary}} (plus per-video tables for 300VW) and per-face errors."""
  import numpy as np
  from tsal_tf import evaluation, metrics
  from tsal_tf.data import formats, schemes, sources
  teacher, student, run_flags = load_networks(run_dir, checkpoint)
  size = teacher.config.input_size
  k = clip_length or int(run_flags.get("clip_length", 3))
  if eval_data == "images":
    samples = formats.load_pts_folder(data_dir)
    samples = samples[:limit] if limit else samples
    image_source = sources.ImageSource(samples, size, schemes.IBUG68)
    clip_source = sources.StillClipSource(samples, size, k, schemes.IBUG68)
    video_ids = None
  else:
    videos = formats.load_300vw(data_dir)
    clip_source = sources.VideoClipSource(videos, size, k, schemes.IBUG68, label_stride=1)
    image_source = None
    video_ids = [clip_source.starts[i][0] for i in range(len(clip_source))]
    if limit:
      video_ids = video_ids[:limit]
  count = len(video_ids) if video_ids is not None else len(image_source)
  clips = [clip_source.example(i) for i in range(count)]
  frames = np.stack([c["frames"] for c in clips])
  tracks = np.stack([c["landmarks"] for c in clips])
  if image_source is not None:
    faces = [image_source.example(i) for i in range(len(image_source))]
    images, truth = np.stack([f["image"] for f in faces]), np.stack([f["landmarks"] for f in faces])
  else:
    images, truth = frames[:, 0], tracks[:, 0]
  results, curves = {}, {}
  for role, net in (("teacher", teacher), ("student", student)):
    errors = {}
    predictions = evaluation.predict_images(net, images, float(run_flags.get("gamma", 0.8)))
    for source in ("p_M", "p_C", "fused"):
      errors[source] = metrics.per_face_nme(predictions[source], truth, normalizer)
    _, errors["tracking"] = evaluation.evaluate_tracking(net, frames, tracks, normalizer)
    results[role] = {source: metrics.summarize(e, threshold) for source, e in errors.items()}
    if video_ids is not None:
      results[role]["per_video"] = metrics.per_video(errors["fused"], video_ids, threshold)
    curves[f"{role} fused"] = errors["fused"]
    curves[f"{role} tracking"] = errors["tracking"]
  return {"normalizer": normalizer, "threshold": threshold, "faces": int(len(curves["teacher fused"])),
          "data_dir": os.path.abspath(data_dir), "results": results}, curves


def main(argv):
  del argv
  from tsal_tf import metrics
  from tsal_tf.io_utils import atomic_write_json
  if not FLAGS.run_dir:
    raise app.UsageError("--run_dir is required")
  try:
    report, curves = evaluate_run(FLAGS.run_dir, FLAGS.data_dir, FLAGS.eval_normalizer, FLAGS.threshold,
                                  FLAGS.eval_clip_length, FLAGS.limit, FLAGS.eval_data, FLAGS.checkpoint)
  except (FileNotFoundError, ValueError) as error:
    print(f"error: {error}", file=sys.stderr)
    sys.exit(2)
  output = FLAGS.output or os.path.join(FLAGS.run_dir, "eval_" + os.path.basename(os.path.normpath(FLAGS.data_dir)))
  atomic_write_json(output + ".json", report)
  metrics.plot_ced(curves, output + "_ced.png", FLAGS.threshold,
                   title=f"CED ({FLAGS.eval_normalizer}) on {os.path.basename(os.path.normpath(FLAGS.data_dir))}")
  print(f"{report['faces']} faces, NME normalised by {FLAGS.eval_normalizer}:")
  for role, sources in report["results"].items():
    for source, summary in sources.items():
      if source != "per_video":
        print(f"  {role:7s} {source:8s} NME {100 * summary['nme']:6.2f}%  AUC@{FLAGS.threshold} "
              f"{summary['auc']:.4f}  FR@{FLAGS.threshold} {100 * summary['fr']:5.2f}%")
  print(f"wrote {output}.json and {output}_ced.png")


if __name__ == "__main__":
  app.run(main)
