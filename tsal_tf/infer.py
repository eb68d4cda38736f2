"""Landmarks on a video or an image folder (the command line of tsal_tf.video_landmarks):

    python -m tsal_tf.infer --video in.mp4 --output out.mp4 --landmarks out.json

The model is a training run (--run_dir) or an exported SavedModel (--saved_model). The first frame's face box
comes from --box or from OpenCV's Haar face detector, later ones from the detector (every --redetect_every
frames) or the previous frame's landmarks; a box that did not come from landmarks is first replaced by the
landmark box of a prediction on it (tsal_tf.video_landmarks). Landmarks can be smoothed over time
(--smoothing). Writes an overlay video and per-frame landmarks (JSON or CSV by extension), both atomically, and
prints the jitter of the raw and the smoothed tracks.
"""

import os

from absl import app
from absl import flags

from tsal_tf import cli  # first: quiets TensorFlow's C++ start-up log
from tsal_tf.video_landmarks import RunPredictor, SavedModelPredictor, VideoError, run

FLAGS = flags.FLAGS
flags.DEFINE_string("video", None, "Input video file, or a folder of frames (sorted by name).")
flags.DEFINE_string("output", None, "Overlay video to write (.mp4 / .avi); optional.")
flags.DEFINE_string("landmarks", None, "Per-frame landmarks to write (.json or .csv); optional.")
flags.DEFINE_string("run_dir", None, "Training run directory (uses its teacher).")
flags.DEFINE_string("saved_model", None, "Exported SavedModel version folder (alternative to --run_dir).")
flags.DEFINE_list("box", None, "First-frame face box x1,y1,x2,y2 (default: Haar face detector).")
flags.DEFINE_float("smoothing", 0.5, "Temporal smoothing in [0, 1): 0 = none.")
flags.DEFINE_integer("max_frames", 0, "Process at most this many frames (0 = all).")
flags.DEFINE_integer("redetect_every", 1, "Run the face detector every n-th frame for the crop box (0 = only "
                     "on the first frame; later boxes then follow the landmarks).")
flags.DEFINE_boolean("flip_test", False, "Average each frame's prediction with its mirror image's (--run_dir only; "
                     "a SavedModel does so when exported with export --flip_test): twice the compute.")


def main(argv):
  del argv
  if not FLAGS.video or not (FLAGS.run_dir or FLAGS.saved_model):
    raise app.UsageError("--video and one of --run_dir / --saved_model are required")
  if not 0.0 <= FLAGS.smoothing < 1.0:
    raise app.UsageError("--smoothing must be in [0, 1)")
  box = tuple(float(v) for v in FLAGS.box) if FLAGS.box else None
  if box is not None and (len(box) != 4 or box[2] <= box[0] or box[3] <= box[1]):
    raise app.UsageError("--box must be x1,y1,x2,y2 with x2 > x1 and y2 > y1")
  if FLAGS.flip_test and FLAGS.saved_model:
    raise app.UsageError("--flip_test applies to --run_dir; export the SavedModel with export --flip_test instead")
  if not os.path.exists(FLAGS.video):  # before the model loads: the cheap check first
    raise VideoError(f"{FLAGS.video}: no such video file or frame folder")
  predictor = (SavedModelPredictor(FLAGS.saved_model) if FLAGS.saved_model
               else RunPredictor.from_run(FLAGS.run_dir, FLAGS.flip_test))
  run(FLAGS.video, predictor, box, FLAGS.smoothing, FLAGS.output, FLAGS.landmarks, FLAGS.max_frames,
      FLAGS.redetect_every)
  for path in (FLAGS.output, FLAGS.landmarks):
    if path:
      print(f"wrote {path}")


if __name__ == "__main__":
  cli.run(main)
