"""End-to-end training runs of the CLI (tiny configuration): MirroredStrategy smoke, exact resume, NaN stop."""

import json
import os
import re
import shutil
import signal
import time

import numpy as np
import pytest

from runners import SMOKE_RUN_FLAGS, train

pytestmark = pytest.mark.slow


def _final_weights(run_dir):
  """Every array of the run's latest checkpoint (both networks, the optimizer, the eq. 8 queue) by name."""
  from tsal_tf.checkpoints import latest_checkpoint
  with np.load(latest_checkpoint(os.path.join(run_dir, "checkpoints"))) as saved:
    return {name: saved[name] for name in saved.files if not name.startswith("path:")}


def test_two_step_smoke_training_under_mirrored_strategy_with_two_devices(tmp_path):
  # With an average tail from step 1 the second step leaves the teacher's step out (callbacks.TeacherSteps): its
  # train function is rebuilt under the strategy, and the epoch's logs (the last step's) hold no teacher loss.
  result = train(tmp_path / "run", "--cpu_devices=2", "--epochs=1", "--steps_per_epoch=2", "--swa_start=0.5",
                 "--tail_teacher=average")
  assert result.returncode == 0, result.stdout + result.stderr
  assert "Using MirroredStrategy with devices" in result.stderr and "CPU:1" in result.stderr
  final = json.loads((tmp_path / "run" / "final_validation.json").read_text())
  assert final["step"] == 2
  assert (tmp_path / "run" / "flags.txt").read_text().count("--cpu_devices=2") == 1
  import tensorflow as tf
  tags = {value.tag for folder, _, files in os.walk(tmp_path / "run" / "tensorboard") for name in files
          for event in tf.compat.v1.train.summary_iterator(os.path.join(folder, name)) for value in event.summary.value}
  # The validation NME of both roles reaches TensorBoard at every epoch end (not only on multiples of 50 steps).
  assert {"epoch_val/teacher/fused_nme", "epoch_val/student/fused_nme", "epoch_loss"} <= tags, sorted(tags)
  assert "epoch_student/total" in tags and "epoch_teacher/total" not in tags, sorted(tags)


def _kill_at_checkpoint(process, run_dir, step):
  """SIGKILL a training process as soon as its checkpoint of `step` exists."""
  path = run_dir / "checkpoints" / f"ckpt-{step}.npz"
  deadline = time.time() + 600
  while time.time() < deadline and process.poll() is None:
    if path.is_file():
      process.send_signal(signal.SIGKILL)
      break
    time.sleep(0.05)
  process.wait()
  assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_kill_and_resume_continues_exactly(tmp_path, backend, request):
  # The uninterrupted reference is the shared smoke run (under JAX: trained without TensorFlow installed).
  reference, _ = request.getfixturevalue(f"smoke_run_{backend}")
  interrupted = tmp_path / "interrupted"
  # Killed in the second epoch (3 steps each), after the first one's validation was recorded.
  flags = SMOKE_RUN_FLAGS[backend]  # the reference's
  _kill_at_checkpoint(train(interrupted, *flags, wait=False, backend=backend), interrupted, 4)
  result = train(interrupted, *flags, "--resume", backend=backend)
  assert result.returncode == 0, result.stdout + result.stderr
  assert "resumed from" in result.stdout and "at step 4" in result.stdout
  assert "motion pre-training" not in result.stdout  # the JAX run pre-trains when new, not when resumed
  expected, got = _final_weights(reference), _final_weights(interrupted)
  assert expected.keys() == got.keys()
  for name in expected:
    np.testing.assert_allclose(got[name], expected[name], atol=1e-5, err_msg=name)
  # The validation history keeps the epoch measured before the kill.
  expected, got = (json.loads((run / "validation.json").read_text()) for run in (reference, interrupted))
  assert [entry["epoch"] for entry in expected] == [entry["epoch"] for entry in got] == [1, 2]
  for want, have in zip(expected, got):
    assert want.keys() == have.keys()
    np.testing.assert_allclose([have[k] for k in want], [want[k] for k in want], atol=1e-5)


def test_sigterm_saves_the_step_and_resume_continues_exactly(tmp_path, smoke_run_tensorflow):
  """SIGTERM (as Ctrl-C's SIGINT) ends a run after the step in progress, saved although it is no checkpoint step
  (--checkpoint_every=100), with the signal's exit status; --resume then ends where an uninterrupted run does.
  TensorFlow only: the callbacks are the same under JAX, whose state sync the kill-and-resume test covers."""
  reference, _ = smoke_run_tensorflow
  stopped = tmp_path / "stopped"
  process = train(stopped, "--workers=2", "--checkpoint_every=100", wait=False)
  clock = stopped / "train_clock.json"  # written at the end of epoch 1 (step 3), before its validation
  deadline = time.time() + 600
  while time.time() < deadline and process.poll() is None and not clock.is_file():
    time.sleep(0.02)
  process.send_signal(signal.SIGTERM)
  output, _ = process.communicate(timeout=600)
  assert process.returncode == 128 + signal.SIGTERM, output
  step = int(re.search(r"SIGTERM: training stopped after step (\d+), saved as", output).group(1))
  assert 3 < step < 6, output  # in the second epoch
  # Epoch 1's end (each epoch is one fit, saved at its end) and the signal's step, though no checkpoint step.
  assert sorted(os.listdir(stopped / "checkpoints")) == ["ckpt-3.npz", f"ckpt-{step}.npz"]
  assert json.loads(clock.read_text())["steps"] == step
  result = train(stopped, "--workers=2", "--checkpoint_every=100", "--resume")
  assert result.returncode == 0, result.stdout + result.stderr
  assert f"at step {step}" in result.stdout
  expected, got = _final_weights(reference), _final_weights(stopped)
  assert expected.keys() == got.keys()
  for name in expected:
    np.testing.assert_allclose(got[name], expected[name], atol=1e-5, err_msg=name)


def test_existing_run_without_resume_is_refused(tmp_path, smoke_run_tensorflow):
  shutil.copytree(smoke_run_tensorflow[0], tmp_path / "run")
  flags = (tmp_path / "run" / "flags.txt").read_text()
  result = train(tmp_path / "run", "--epochs=1", "--steps_per_epoch=2", "--seed=5")
  assert result.returncode != 0 and "pass --resume" in result.stdout + result.stderr
  assert (tmp_path / "run" / "flags.txt").read_text() == flags  # the refused run left the run as it was


def test_partially_labeled_fine_tuning_starts_from_the_trained_network(tmp_path, smoke_run_tensorflow):
  base_dir, base = smoke_run_tensorflow
  trained_nme = re.findall(r"teacher/fused_nme ([0-9.]+)%", base.stdout)[-1]  # after its last epoch
  assert f"at step 0: {trained_nme}%" not in base.stdout  # the base run's steps changed its NME
  assert not (base_dir / "labeled.txt").exists()  # every face labeled: nothing to list
  result = train(tmp_path / "run", f"--init_from={base_dir}", "--label_fraction=0.25", "--label_seed=1",
                 "--seed=7", "--epochs=1", "--steps_per_epoch=2", "--guide_flip_test", "--motion_pretrain_steps=4")
  assert result.returncode == 0, result.stdout + result.stderr
  assert "training 32 examples (8 labeled)" in result.stdout and "initialised from" in result.stdout
  # A new run pre-trains its motion field, though started from a trained run, then trains in the same process.
  assert "motion pre-training: step 4," in result.stdout
  assert f"at step 0: {trained_nme}%" in result.stdout  # it starts where the base run ended
  from tsal_tf.data import sources
  expected = [f"clip {i}" for i in np.flatnonzero(sources.choose_labeled(32, 0.25, seed=1))]
  assert (tmp_path / "run" / "labeled.txt").read_text().splitlines() == expected
  other = train(tmp_path / "wider", f"--init_from={base_dir}", "--head_width=16")
  assert other.returncode == 2 and "the networks differ" in other.stderr.strip().splitlines()[-1]


def test_nan_loss_stops_with_step_and_term(tmp_path):
  result = train(tmp_path / "run", "--learning_rate=1e38", "--epochs=1", "--steps_per_epoch=3",
                 "--checkpoint_every=1")
  assert result.returncode == 2, result.stdout + result.stderr
  message = result.stderr.strip().splitlines()[-1]
  assert "at step" in message and "loss term" in message and "--resume" in message
  assert os.listdir(tmp_path / "run" / "checkpoints")  # the last good checkpoint is kept
