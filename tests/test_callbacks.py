"""What a resumed run keeps of its records (tsal_tf/callbacks.py): the clock's seconds and epoch ends, the
validation history. The end-to-end kill and resume is tests/test_train.py::test_kill_and_resume_continues_exactly."""

import json
import os

from tsal_tf import callbacks


def test_a_resumed_clock_keeps_every_second_and_the_epoch_ends_its_checkpoint_reached(tmp_path):
  ends = [{"steps": 10, "seconds": 4.0}, {"steps": 20, "seconds": 9.0}]
  (tmp_path / "train_clock.json").write_text(json.dumps({"steps": 24, "seconds": 11.0, "epochs": ends}))
  # Killed at step 24 after its step-15 checkpoint: epoch 2 (steps 11-20) is trained again, its time was spent.
  clock = callbacks.TrainClock(str(tmp_path / "train_clock.json"), resumed_step=15)
  assert clock.epochs == ends[:1] and clock.seconds() == 11.0
  assert callbacks.TrainClock(str(tmp_path / "train_clock.json"), resumed_step=20).epochs == ends


def _validation(log_dir):
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
