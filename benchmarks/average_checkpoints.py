"""Uniform averages of a run's checkpoints, evaluated on labeled faces: how long a weight average should be.

    .venv/bin/python benchmarks/average_checkpoints.py --run_dir=runs/lc_avg/supervised_60min \
        --averages=17868 --averages=8934,17868 --averages=8934,13401,17868 --role=teacher

Each --averages names checkpoint steps (`<run_dir>/checkpoints/ckpt-<step>.npz`) whose `--role` network (teacher:
the moving average of a run with --average_student, or a TSAL run's teacher; student: the raw weights) is
averaged weight by weight, BatchNorm statistics included, into one network: theta = (1/m) sum_j theta_j. Prints
its NME of the fused output, plain and with the flip test (evaluate --flip_test), on the --data_dir faces.
The checkpoints must come from one run: weights of separate trainings do not average into a working network.
"""

import argparse
import os

import numpy as np

from tsal_tf import checkpoints, evaluation, metrics, runs
from tsal_tf.data import formats, sources


def averaged_network(run_dir, steps, role):
  """The run's `role` network holding the mean of its weights in every checkpoint of `steps`."""
  paths = [os.path.join(run_dir, "checkpoints", f"ckpt-{step}.npz") for step in steps]
  for path in paths:
    if not os.path.isfile(path):
      raise SystemExit(f"{path}: no such checkpoint (the run keeps its newest three)")
  teacher, student, run_flags = runs.load_networks(run_dir, paths[0])
  if role == "teacher" and not runs.has_teacher(run_flags):
    raise SystemExit(f"{run_dir}: trained a single model without a teacher; use --role=student")
  target = teacher if role == "teacher" else student
  members = [checkpoints.load_arrays(path, role) for path in paths]
  for i, weight in enumerate(target.weights):
    weight.assign(np.mean([arrays[i] for arrays in members], axis=0))
  return target, run_flags


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--run_dir", required=True)
  parser.add_argument("--averages", action="append", required=True,
                      help="comma-separated checkpoint steps averaged into one network; repeat for several")
  parser.add_argument("--role", choices=("teacher", "student"), default="teacher")
  parser.add_argument("--data_dir", default="../shared/data/300w_helen_test,../shared/data/300w_lfpw_test")
  parser.add_argument("--normalizer", default="inter_pupil")
  args = parser.parse_args()
  samples, _ = formats.load_pts_folders(args.data_dir.split(","))
  images = truth = None
  for spec in args.averages:
    steps = [int(s) for s in spec.split(",")]
    net, run_flags = averaged_network(args.run_dir, steps, args.role)
    if images is None:
      source = sources.network_crops(samples, net.config)
      faces = [source.example(i) for i in range(len(source))]
      images, truth = np.stack([f["image"] for f in faces]), np.stack([f["landmarks"] for f in faces])
    plain, flipped = evaluation.predict_images_plain_and_flip_test(
        net, images, float(run_flags.get("gamma", 0.8)),
        mirror_shift=evaluation.run_mirror_shift(run_flags, net.config.input_size))
    nme = lambda predictions: 100 * metrics.per_face_nme(predictions["fused"], truth, args.normalizer).mean()
    print(f"{args.role} at steps {spec}: NME {args.normalizer} {nme(plain):.2f}%, flip test {nme(flipped):.2f}% "
          f"({len(images)} faces)", flush=True)


if __name__ == "__main__":
  main()
