"""Evaluate a training run: `python -m tsal_tf.evaluate --run_dir=runs/<name> --data_dir=<300W .pts folder>`.

For the teacher and the student: NME / AUC@t / FR@t of every source on still faces (p_M, p_C, fused), and of
tracking (phi(V, p_l) from the frame-0 ground truth) on clips synthesised from the same faces (or real
300VW clips with --data=300vw, reported per video). Faces are cropped from their ground-truth landmark box
with the training margin (the usual 300W protocol of SAN/SBR). Writes `<output>.json` and a CED plot PNG.
"""

from absl import app
from absl import flags

from tsal_tf import cli  # first: quiets TensorFlow's C++ start-up log
from tsal_tf.metrics import NORMALIZERS

FLAGS = flags.FLAGS
flags.DEFINE_string("run_dir", None, "Training run directory (flags.txt + checkpoints/).")
flags.DEFINE_string("checkpoint", None, "A specific checkpoint, <run_dir>/checkpoints/ckpt-<step>.npz (default: "
                    "the latest).")
flags.DEFINE_list("data_dir", None, "300W-style folders of images + .pts, comma-separated (evaluated together and "
                  "one by one), or a 300VW root with --eval_data=300vw.")
flags.DEFINE_enum("eval_data", "images", ["images", "300vw"], "Evaluation data layout.")
flags.DEFINE_string("output", None, "Output path prefix (default <run_dir>/eval_<data folder names>, suffixed "
                    "with the normaliser, _flip_test, the checkpoint, _first<limit> where they differ from the "
                    "defaults).")
flags.DEFINE_enum("eval_normalizer", "inter_pupil", NORMALIZERS,
                  "NME normaliser.")
flags.DEFINE_float("threshold", 0.08, "AUC / failure-rate threshold.")
flags.DEFINE_integer("eval_clip_length", 0, "Frames per evaluation clip (0 = the run's clip_length).")
flags.DEFINE_integer("limit", 0, "Evaluate at most this many faces (0 = all).")
flags.DEFINE_boolean("flip_test", False, "Average each face's predictions with those of its mirror image.")
flags.DEFINE_string("mean_shape_from", None, "Also report the NME of the mean shape of this .pts folder.")
flags.mark_flag_as_required("data_dir")


def main(argv):
  del argv
  from tsal_tf import evaluation, metrics
  from tsal_tf.io_utils import atomic_write_json
  if not FLAGS.run_dir:
    raise app.UsageError("--run_dir is required")
  data = FLAGS.data_dir if FLAGS.eval_data == "images" else FLAGS.data_dir[0]
  report, curves = evaluation.evaluate_run(FLAGS.run_dir, data, FLAGS.eval_normalizer, FLAGS.threshold,
                                           FLAGS.eval_clip_length, FLAGS.limit, FLAGS.eval_data, FLAGS.checkpoint,
                                           FLAGS.flip_test)
  if FLAGS.mean_shape_from:
    from tsal_tf.runs import read_run_flags
    errors = evaluation.mean_shape_errors(FLAGS.mean_shape_from, FLAGS.data_dir,
                                          int(read_run_flags(FLAGS.run_dir)["input_size"]), FLAGS.eval_normalizer)
    report["mean_shape"] = metrics.summarize(errors, FLAGS.threshold)
  output = FLAGS.output or evaluation.report_prefix(FLAGS.run_dir, FLAGS.data_dir, FLAGS.eval_normalizer,
                                                    FLAGS.flip_test, FLAGS.checkpoint, FLAGS.limit)
  atomic_write_json(output + ".json", report)
  title = f"CED ({FLAGS.eval_normalizer}) on {evaluation.data_name(FLAGS.data_dir)}"
  metrics.plot_ced(curves, output + "_ced.png", FLAGS.threshold,
                   title=title + (" (flip test)" if FLAGS.flip_test else ""))
  print(f"{report['faces']} faces, NME normalised by {FLAGS.eval_normalizer}:")
  for role, sources in report["results"].items():
    for source, summary in sources.items():
      if source in ("per_video", "per_category", "per_subset"):
        continue
      print(f"  {role:7s} {source:8s} NME {100 * summary['nme']:6.2f}%  AUC@{FLAGS.threshold} "
            f"{summary['auc']:.4f}  FR@{FLAGS.threshold} {100 * summary['fr']:5.2f}%  jitter {summary['jitter']:.4f}")
    for subset, by_source in sources.get("per_subset", {}).items():
      print(f"  {role:7s} {subset}: " + ", ".join(f"{source} NME {100 * summary['nme']:.2f}%"
                                                   for source, summary in by_source.items()))
    for category, summary in sources.get("per_category", {}).items():
      print(f"  {role:7s} 300VW category {category}: AUC@{FLAGS.threshold} {summary['auc']:.4f}  "
            f"FR@{FLAGS.threshold} {100 * summary['fr']:5.2f}%  ({summary['count']} faces)")
  if "mean_shape" in report:
    print(f"  reference: the mean training shape in every crop: NME {100 * report['mean_shape']['nme']:.2f}%")
  print(f"  reference: tracking with no motion (frame 0's points copied): NME "
        f"{100 * report['zero_motion_tracking']['nme']:.2f}%")
  print(f"wrote {output}.json and {output}_ced.png")


if __name__ == "__main__":
  cli.run(main)
