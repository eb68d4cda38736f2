"""End-to-end training runs of the CLI (tiny configuration): MirroredStrategy smoke, exact resume, NaN stop."""

import json
import os
import re
import shutil
import signal
import time

import numpy as np
import pytest

from runners import train

pytestmark = pytest.mark.slow


def _final_weights(run_dir):
  """Every array of the run's latest checkpoint (both networks, the optimizer, the eq. 8 queue) by name."""
  from tsal_tf.checkpoints import latest_checkpoint
  with np.load(latest_checkpoint(os.path.join(run_dir, "checkpoints"))) as saved:
    return {name: saved[name] for name in saved.files if not name.startswith("path:")}


def test_two_step_smoke_training_under_mirrored_strategy_with_two_devices(tmp_path):
  result = train(tmp_path / "run", "--cpu_devices=2", "--epochs=1", "--steps_per_epoch=2")
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
  _kill_at_checkpoint(train(interrupted, "--workers=2", wait=False, backend=backend), interrupted, 4)
  result = train(interrupted, "--workers=2", "--resume", backend=backend)
  assert result.returncode == 0, result.stdout + result.stderr
  assert "resumed from" in result.stdout and "at step 4" in result.stdout
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


def test_a_resumed_clock_keeps_every_second_and_the_epoch_ends_its_checkpoint_reached(tmp_path):
  from tsal_tf import callbacks
  ends = [{"steps": 10, "seconds": 4.0}, {"steps": 20, "seconds": 9.0}]
  (tmp_path / "train_clock.json").write_text(json.dumps({"steps": 24, "seconds": 11.0, "epochs": ends}))
  # Killed at step 24 after its step-15 checkpoint: epoch 2 (steps 11-20) is trained again, its time was spent.
  clock = callbacks.TrainClock(str(tmp_path / "train_clock.json"), resumed_step=15)
  assert clock.epochs == ends[:1] and clock.seconds() == 11.0
  assert callbacks.TrainClock(str(tmp_path / "train_clock.json"), resumed_step=20).epochs == ends


def _validation(log_dir):
  from tsal_tf import callbacks
  return callbacks.Validation(None, None, None, None, "inter_ocular", str(log_dir))


def test_a_resumed_history_keeps_the_epochs_its_checkpoint_finished(tmp_path):
  history = [{"epoch": epoch, "val/teacher/fused_nme": 0.1 / epoch} for epoch in (1, 2, 3)]
  (tmp_path / "validation.json").write_text(json.dumps(history))
  measured = {"val/teacher/fused_nme": 0.5}
  # Resumed in epoch 3 (steps 21-30, 10 per epoch): epoch 3's entry came from weights trained again.
  validation = _validation(tmp_path)
  validation.start_history(25, 10, measured)
  assert validation.history == history[:2]
  assert json.loads((tmp_path / "validation.json").read_text()) == history[:2]
  # Resumed at the end of epoch 2, killed before it was recorded: the resume's measurement is epoch 2.
  (tmp_path / "validation.json").write_text(json.dumps(history[:1]))
  validation = _validation(tmp_path)
  validation.start_history(20, 10, measured)
  assert validation.history == history[:1] + [{"epoch": 2, **measured}]
  # Recorded already: kept as it was. A new run (step 0) or one killed in its first epoch: nothing to keep.
  (tmp_path / "validation.json").write_text(json.dumps(history))
  validation = _validation(tmp_path)
  validation.start_history(20, 10, measured)
  assert validation.history == history[:2]
  validation = _validation(tmp_path)
  validation.start_history(0, 10, measured)
  assert validation.history == [] and json.loads((tmp_path / "validation.json").read_text()) == []
  os.remove(tmp_path / "validation.json")
  validation = _validation(tmp_path)
  validation.start_history(5, 10, measured)
  assert validation.history == []


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
                 "--seed=7", "--epochs=1", "--steps_per_epoch=2", "--guide_flip_test")
  assert result.returncode == 0, result.stdout + result.stderr
  assert "training 32 examples (8 labeled)" in result.stdout and "initialised from" in result.stdout
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
