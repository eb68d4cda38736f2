"""Write one network of a training run as a run directory of its own (a single model): small enough to carry.

    python -m tsal_tf.tools.extract_network --run_dir=runs/300w_gpu --role=teacher --output=runs/300w_gpu_teacher

The output holds the run's flags.txt, marked as a single model (--noasync_learning --noaverage_student), and
`checkpoints/ckpt-<step>.npz` with only the `role` network's weights (as the single model's "student" group):
about a quarter of a training checkpoint, which also holds the other network and the optimizer's moments.
`evaluate`, `infer` and `export` load it as any single-model run; its network computes what the run's `role`
network computes.
"""

import argparse
import os
import shutil

import numpy as np

from tsal_tf import checkpoints
from tsal_tf import runs
from tsal_tf.io_utils import atomic_path
from tsal_tf.io_utils import atomic_write_text

SINGLE_MODEL_LINES = ("--noasync_learning", "--noaverage_student")


def extract_network(run_dir, role, output):
  """Write `role`'s weights of run_dir's latest checkpoint as the single-model run `output`; returns its
  checkpoint path."""
  source = checkpoints.latest_checkpoint(os.path.join(run_dir, "checkpoints"))
  if source is None:
    raise SystemExit(f"{run_dir}: no checkpoints/ckpt-<step>.npz to extract from")
  if role == "teacher" and not runs.has_teacher(runs.read_run_flags(run_dir)):
    raise SystemExit(f"{run_dir}: trained a single model without a teacher of its own; use --role=student")
  with np.load(source) as saved:
    keys = [key for key in saved.files if key.startswith((f"{role}/", f"path:{role}/"))]
    arrays = {key.replace(role, "student", 1): saved[key] for key in keys}
  if os.path.exists(output):
    raise SystemExit(f"{output} exists: choose another --output")
  os.makedirs(os.path.join(output, "checkpoints"))
  with open(os.path.join(run_dir, "flags.txt"), encoding="utf-8") as f:
    lines = [line.rstrip("\n") for line in f
             if line.strip().lstrip("-").removeprefix("no") not in ("async_learning", "average_student")]
  atomic_write_text(os.path.join(output, "flags.txt"), "\n".join(lines + list(SINGLE_MODEL_LINES)) + "\n")
  target = os.path.join(output, "checkpoints", os.path.basename(source))
  with atomic_path(target) as temporary:
    with open(temporary, "wb") as f:
      np.savez(f, **arrays)
  for name in ("final_validation.json", "train_clock.json"):
    if os.path.isfile(os.path.join(run_dir, name)):
      shutil.copy(os.path.join(run_dir, name), output)
  return target


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--run_dir", required=True, help="The training run.")
  parser.add_argument("--role", choices=("teacher", "student"), default="teacher",
                      help="teacher: eq. 8's network (TSAL, or the weight average of --average_student); student: "
                           "the trained weights.")
  parser.add_argument("--output", required=True, help="The new run directory (must not exist).")
  args = parser.parse_args(argv)
  path = extract_network(args.run_dir, args.role, args.output)
  print(f"wrote the {args.role} of {args.run_dir} as a single model: {path} ({os.path.getsize(path) / 2**20:.1f} MiB)")


if __name__ == "__main__":
  main()
