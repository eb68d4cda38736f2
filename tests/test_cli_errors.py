"""Every CLI answers a missing path or a bad flag with one `error:` line naming it and a non-zero exit."""

import os
import subprocess
import sys

from runners import ROOT
MISSING = "/nonexistent/tsal"

CASES = {
    "train": ["tsal_tf.train", f"--flagfile={ROOT}/configs/smoke.flags", "--data=300w_clips",
              f"--train_dir={MISSING}", f"--run_dir={MISSING}_run"],
    "evaluate": ["tsal_tf.evaluate", f"--run_dir={MISSING}", f"--data_dir={MISSING}"],
    "export": ["tsal_tf.export", f"--run_dir={MISSING}", f"--export_dir={MISSING}_export"],
    "infer saved model": ["tsal_tf.infer", f"--saved_model={MISSING}", f"--video={ROOT}/../shared/data/video"],
    "infer run": ["tsal_tf.infer", f"--run_dir={MISSING}", f"--video={ROOT}/../shared/data/video"],
    "infer video": ["tsal_tf.infer", f"--run_dir={ROOT}", f"--video={MISSING}.mp4"],
    "prepare": ["tsal_tf.prepare", f"--videos={MISSING}.mp4", f"--out={MISSING}_out"],
    "pseudo_label": ["tsal_tf.tools.pseudo_label", f"--run_dir={ROOT}", f"--data_dir={MISSING}",
                     f"--out_dir={MISSING}_out"],
}


def test_missing_path_is_one_line_naming_it(tmp_path):
  """Every case in one test, its CLIs started together: each is mostly a TensorFlow import, which the cores
  overlap (and which pytest-xdist's workers would repeat if the cases were split between them)."""
  env = dict(os.environ)
  env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the CLIs must be quiet by themselves
  processes = {case: subprocess.Popen([sys.executable, "-m", *command], cwd=tmp_path, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for case, command in CASES.items()}
  failures = []
  for case, process in processes.items():
    stdout, stderr = process.communicate(timeout=300)
    lines = [line for line in stderr.splitlines() if line.strip()]
    if (process.returncode != 2 or "Traceback" in stderr or len(lines) != 1 or not lines[0].startswith("error: ")
        or MISSING not in lines[0]):
      failures.append(f"{case}: exit {process.returncode}, stderr {stderr[-1500:]!r}, stdout {stdout[-500:]!r}")
  assert not failures, "\n".join(failures)


def test_unknown_flag_in_a_flagfile_is_refused(tmp_path):
  flagfile = tmp_path / "bad.flags"
  flagfile.write_text(f"--flagfile={ROOT}/configs/smoke.flags\n--no_such_flag=1\n")
  result = subprocess.run([sys.executable, "-m", "tsal_tf.train", f"--flagfile={flagfile}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
  assert result.returncode != 0 and "no_such_flag" in result.stderr and "Traceback" not in result.stderr
