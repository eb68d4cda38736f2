"""Write one network of a training run as a run directory of its own (a single model): small enough to carry.

    python -m tsal_tf.tools.extract_network --run_dir=runs/300w_gpu --role=teacher --output=runs/300w_gpu_teacher

The output holds `checkpoints/ckpt-<step>.npz` with only the `role` network's weights of the run's latest
checkpoint (as the single model's "student" group: a quarter of the checkpoint of a single model with
--average_student and v = 1, less for TSAL, whose checkpoints hold both networks, their optimizer moments and
the eq. 8 queue), and the run's flags.txt marked as a single model: --noasync_learning --noaverage_student
--swa_start=1 and --run_dir=<output>. `evaluate`, `infer`, `export` and `train --init_from` load it as any
single-model run, and its network computes what the run's `role` network computes; it cannot be resumed (it
holds no optimizer state).
"""

import argparse
import os

from tsal_tf import checkpoints
from tsal_tf import runs
from tsal_tf.io_utils import atomic_write_text

# Flags rewritten to describe one network trained without a teacher of its own.
REPLACED_FLAGS = ("async_learning", "average_student", "swa_start", "run_dir")


def single_model_flags(flag_lines, output):
  """The lines of a run's flags.txt, rewritten for the single-model run `output` (REPLACED_FLAGS)."""
  def name(line):
    bare = line.strip().lstrip("-").split("=", 1)[0]
    return bare[2:] if bare.startswith("no") and bare[2:] in REPLACED_FLAGS else bare
  kept = [line.rstrip("\n") for line in flag_lines if name(line) not in REPLACED_FLAGS]
  return kept + ["--noasync_learning", "--noaverage_student", "--swa_start=1", f"--run_dir={output}"]


def extract_network(run_dir, role, output):
  """Write `role`'s weights of run_dir's latest checkpoint as the single-model run `output`; returns its
  checkpoint path."""
  source = checkpoints.latest_checkpoint(os.path.join(run_dir, "checkpoints"))
  if source is None:
    raise SystemExit(f"{run_dir}: no checkpoints/ckpt-<step>.npz to extract from")
  if role == "teacher" and not runs.has_teacher(runs.read_run_flags(run_dir)):
    raise SystemExit(f"{run_dir}: trained a single model without a teacher of its own; use --role=student")
  if os.path.exists(output):
    raise SystemExit(f"{output} exists: choose another --output")
  weights = checkpoints.load_group(source, role)
  with open(os.path.join(run_dir, "flags.txt"), encoding="utf-8") as f:
    lines = single_model_flags(f, output)
  os.makedirs(os.path.join(output, "checkpoints"))
  atomic_write_text(os.path.join(output, "flags.txt"), "\n".join(lines) + "\n")
  target = os.path.join(output, "checkpoints", os.path.basename(source))
  checkpoints.save_arrays(target, {"student": weights})
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
