"""End-to-end training runs of the CLI (tiny configuration): MirroredStrategy smoke, exact resume, NaN stop."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMOKE = os.path.join(ROOT, "configs", "smoke.flags")
pytestmark = pytest.mark.slow


def _train(run_dir, *extra, wait=True):
  command = [sys.executable, "-m", "tsal_tf.train", f"--flagfile={SMOKE}", f"--run_dir={run_dir}", *extra]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  if not wait:
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


def _final_weights(run_dir):
  import tensorflow as tf
  reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints")))
  names = sorted(n for n in reader.get_variable_to_shape_map()
                 if not any(skip in n for skip in ("OPTIMIZER_SLOT", "save_counter", "CHECKPOINTABLE_OBJECT_GRAPH")))
  return {n: reader.get_tensor(n) for n in names}


def test_two_step_smoke_training_under_mirrored_strategy_with_two_devices(tmp_path):
  result = _train(tmp_path / "run", "--cpu_devices=2", "--epochs=1", "--steps_per_epoch=2")
  assert result.returncode == 0, result.stdout + result.stderr
  assert "Using MirroredStrategy with devices" in result.stderr and "CPU:1" in result.stderr
  final = json.loads((tmp_path / "run" / "final_validation.json").read_text())
  assert final["step"] == 2
  assert (tmp_path / "run" / "flags.txt").read_text().count("--cpu_devices=2") == 1
  assert any(name.startswith("events") for _, _, files in os.walk(tmp_path / "run" / "tensorboard") for name in files)


def test_kill_and_resume_continues_exactly(tmp_path):
  reference = tmp_path / "uninterrupted"
  assert _train(reference).returncode == 0
  interrupted = tmp_path / "interrupted"
  process = _train(interrupted, wait=False)
  checkpoints = interrupted / "checkpoints"
  deadline = time.time() + 600
  while time.time() < deadline and process.poll() is None:
    state = checkpoints / "checkpoint"
    if state.is_file() and '"ckpt-2"' in state.read_text():
      process.send_signal(signal.SIGKILL)
      break
    time.sleep(0.05)
  process.wait()
  assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
  result = _train(interrupted, "--resume")
  assert result.returncode == 0, result.stdout + result.stderr
  assert "resumed from" in result.stdout and "at step 2" in result.stdout
  expected, got = _final_weights(reference), _final_weights(interrupted)
  assert expected.keys() == got.keys()
  for name in expected:
    np.testing.assert_allclose(got[name], expected[name], atol=1e-5, err_msg=name)


def test_existing_run_without_resume_is_refused(tmp_path):
  assert _train(tmp_path / "run", "--epochs=1", "--steps_per_epoch=2").returncode == 0
  result = _train(tmp_path / "run", "--epochs=1", "--steps_per_epoch=2")
  assert result.returncode != 0 and "pass --resume" in result.stdout + result.stderr


def test_nan_loss_stops_with_step_and_term(tmp_path):
  result = _train(tmp_path / "run", "--learning_rate=1e38", "--epochs=1", "--steps_per_epoch=3",
                  "--checkpoint_every=1")
  assert result.returncode == 2, result.stdout + result.stderr
  message = result.stderr.strip().splitlines()[-1]
  assert "at step" in message and "loss term" in message and "--resume" in message
  assert os.listdir(tmp_path / "run" / "checkpoints")  # the last good checkpoint is kept
