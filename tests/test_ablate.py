"""The ablation driver end to end at the smoke budget (two rows): train, evaluate, HParams, report, skip. Rows
are `tsal_tf.train` processes that inherit the driver's environment, KERAS_BACKEND included; no row runs under
JAX here: training under JAX with TensorBoard summaries is test_train's kill-and-resume[jax] and test_train_jax,
a JAX run's evaluation is test_train_jax::test_a_jax_run_evaluates_alike_under_jax_and_tensorflow."""

import os
import subprocess
import sys

import pytest

from runners import ROOT
pytestmark = pytest.mark.slow


def test_rows_train_report_and_skip_when_rerun(tmp_path):
  data = os.path.join(ROOT, "..", "shared", "data", "300w_helen_test")
  if not os.path.isdir(data):
    pytest.skip("shared data missing")
  rows = ["baseline", "st_sic_mfds"]
  command = [sys.executable, "-m", "tsal_tf.ablate", f"--base_flags={ROOT}/configs/smoke.flags",
             f"--study_dir={tmp_path}/study", f"--report_dir={tmp_path}/report", f"--eval_dir={data}",
             f"--only_rows={','.join(rows)}", "--eval_limit=16",
             "--extra_flags=--epochs=1,--steps_per_epoch=2,--gamma=0.7"]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND="tensorflow")
  first = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
  assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-3000:]
  report = (tmp_path / "report" / "ablation.md").read_text()
  assert all(f"| {row} |" in report for row in rows) and "teacher" in report
  assert "fused = 0.7 p_M + 0.3 p_C" in report  # the rows' own gamma (eq. 4)
  assert "| no motion (frame 0's points copied) | |" in report
  # header, then one line for the single model and two (teacher, student) for the teacher-student row
  assert (tmp_path / "report" / "ablation.csv").read_text().count("\n") == 1 + 1 + 2
  assert (tmp_path / "report" / "ablation.png").read_bytes()[:4] == b"\x89PNG"
  for row in rows:
    assert any(n.startswith("events") for n in os.listdir(tmp_path / "study" / row / "hparams"))
    final = (tmp_path / "study" / row / "final_validation.json").read_text()
    assert '"backend": "tensorflow"' in final
  again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
  assert again.returncode == 0 and again.stdout.count("done, skipped") == len(rows)
