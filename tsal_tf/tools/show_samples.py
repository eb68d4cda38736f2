"""Write a PNG grid of augmented samples and clip frames with their landmarks drawn.

    python -m tsal_tf.tools.show_samples --data=300w_clips --train_dir=../shared/data/300w_helen_train \
        --output=results/samples.png

One row per clip: its K frames (frame 0 is the labeled one, with a yellow border) with the ground-truth
landmarks that the pipeline carries for every frame, so a person can see that the bookkeeping follows the
pixels through flips, rotations, synthetic motion and warps.
"""

import cv2
from absl import flags

from tsal_tf import cli  # first: quiets TensorFlow's C++ start-up log
from tsal_tf import flag_defs  # noqa: F401  (data and network flags)

flags.DEFINE_string("output", "results/samples.png", "PNG to write.")
flags.DEFINE_integer("rows", 6, "Clips to show.")
flags.DEFINE_integer("scale", 3, "Upscaling of each frame in the grid.")
FLAGS = flags.FLAGS


def sample_grid(source, rows, scale, seed=0):
  """uint8 RGB grid [rows * S * scale, K * S * scale, 3] of clips from a clip source."""
  from tsal_tf.tools import drawing
  panels = []
  columns = None
  for i in range(min(rows, len(source))):
    example = source.example(i, seed)
    columns = len(example["frames"])
    for k, (frame, points) in enumerate(zip(example["frames"], example["landmarks"])):
      panel = drawing.draw_landmarks(frame, points, scale=scale)
      if example["labeled"][k]:
        cv2.rectangle(panel, (0, 0), (panel.shape[1] - 1, panel.shape[0] - 1), (255, 220, 0), 2)
      panels.append(panel)
  return drawing.grid(panels, columns)


def main(argv):
  del argv
  from tsal_tf import experiment
  from tsal_tf.io_utils import atomic_path
  data = experiment.build_data()
  grid = sample_grid(data.train, FLAGS.rows, FLAGS.scale, FLAGS.seed)
  with atomic_path(FLAGS.output) as tmp:  # the temporary name keeps the extension cv2 needs
    if not cv2.imwrite(tmp, grid[..., ::-1]):
      raise IOError(f"cannot write {FLAGS.output}")
  print(f"wrote {FLAGS.output} ({len(data.train)} training clips; yellow border = labeled frame)")


if __name__ == "__main__":
  cli.run(main)
