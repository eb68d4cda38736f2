"""Keras callbacks of the training job (both backends): NaN guard, time limit, clock, checkpoints, a clean stop
on Ctrl-C / SIGTERM, progress, validation."""

import collections
import contextlib
import json
import math
import os
import signal
import sys
import time

import keras
import numpy as np
from keras import ops

from tsal_tf import evaluation
from tsal_tf.errors import TrainingDivergedError, TrainingInterrupted
from tsal_tf.io_utils import atomic_write_json


def tensorflow_available():
  """Whether TensorFlow can be imported (for TensorBoard summaries under any backend)."""
  import importlib.util
  return importlib.util.find_spec("tensorflow") is not None


def sync_model_state(model):
  """Under JAX, Keras holds the training state outside the model's variables during an epoch; write it back
  (a no-op under TensorFlow and when already in sync)."""
  sync = getattr(model, "jax_state_sync", None)
  if sync is not None:
    sync()


def _saved_json(path, default):
  """The JSON record a run wrote at `path` (a resumed run's clock or history), or `default` when there is none."""
  if not os.path.isfile(path):
    return default
  with open(path, encoding="utf-8") as f:
    return json.load(f)


class StepCallback(keras.callbacks.Callback):
  """A callback that knows the global training step (`self.step`, counted in Python: reading the optimizer's
  iteration counter would need a device round-trip per step, and under JAX a state sync)."""

  def on_train_begin(self, logs=None):
    self.step = int(ops.convert_to_numpy(self.model.optimizer.iterations.value))

  def on_train_batch_end(self, batch, logs=None):
    self.step += 1


class TeacherSteps(StepCallback):
  """Stops training the teacher at the step from which eq. 8 drops its steps (TeacherStudent.train_teacher_at):
  checked at the start of each fit (a resumed run) and before each step."""

  def on_train_begin(self, logs=None):
    super().on_train_begin(logs)
    self.model.train_teacher_at(self.step)

  def on_train_batch_begin(self, batch, logs=None):
    self.model.train_teacher_at(self.step)


class TimeLimit(StepCallback):
  """Stop training after the first step that ends more than `minutes` after this process began training
  (`spent_seconds` earlier: the motion pre-training, which ran before the first fit).

  For machines lent for a fixed time (tools/gpu_train.sh): the weights trained so far are still saved.
  `stopped_at_step` is the global step at which it stopped (None if it never did).
  """

  def __init__(self, minutes, spent_seconds=0.0):
    super().__init__()
    self.seconds = 60.0 * minutes - spent_seconds
    self.start = None
    self.stopped_at_step = None

  def on_train_begin(self, logs=None):
    super().on_train_begin(logs)
    if self.start is None:  # the first of this process's fits (the driver fits one epoch at a time)
      self.start = time.time()

  def on_train_batch_end(self, batch, logs=None):
    super().on_train_batch_end(batch, logs)
    if time.time() - self.start > self.seconds and self.stopped_at_step is None:
      self.stopped_at_step = self.step
    if self.stopped_at_step is not None:
      self.model.stop_training = True


class TrainClock(StepCallback):
  """Training time of a run across resumes: <run_dir>/train_clock.json.

  {"steps", "seconds", "epochs": [{"steps", "seconds"} at each epoch end]}: `seconds` is the wall time spent
  in fit (steps, data waits and the per-epoch validation), summed over every process that trained the run,
  plus `pretraining_seconds` (the motion pre-training of a new run, before its first fit). Written at each
  epoch end and at the end of training (a killed run loses at most the time since its last epoch end, as it
  loses the steps since its last checkpoint). A run resumed from its checkpoint of `resumed_step` keeps the
  epoch ends up to it (later ones are trained again) and all the seconds spent.
  """

  def __init__(self, path, pretraining_seconds=0.0, resumed_step=0):
    super().__init__()
    self.path = path
    saved = _saved_json(path, {"seconds": 0.0, "epochs": []})
    self.previous, self.start = float(saved["seconds"]) + pretraining_seconds, None
    self.epochs = [end for end in saved.get("epochs", []) if end["steps"] <= resumed_step]

  def seconds(self):
    return self.previous + (time.time() - self.start if self.start is not None else 0.0)

  def on_train_begin(self, logs=None):
    super().on_train_begin(logs)
    self.start = time.time()

  def write(self):
    atomic_write_json(self.path, {"steps": self.step, "seconds": self.seconds(), "epochs": self.epochs})

  def on_epoch_end(self, epoch, logs=None):
    self.epochs.append({"steps": self.step, "seconds": self.seconds()})
    self.write()

  def on_train_end(self, logs=None):
    self.write()
    self.previous, self.start = self.seconds(), None


class NaNGuard(StepCallback):
  """Stop with TrainingDivergedError at the first non-finite loss term (before any checkpoint of it)."""

  def on_train_batch_end(self, batch, logs=None):
    super().on_train_batch_end(batch, logs)
    for name, value in (logs or {}).items():
      value = float(value)
      if not math.isfinite(value):
        self.model.stop_training = True
        raise TrainingDivergedError(
            f"loss term {name!r} is {value} at step {self.step}; training stopped. The last good checkpoint is "
            f"kept: lower the learning rate or the weight of {name.split('/')[-1]!r} and resume with --resume.")


class Checkpointer(StepCallback):
  """Save a checkpoint (checkpoints.CheckpointManager: atomic, rotated) every `every_steps` steps and at the
  end of training."""

  def __init__(self, manager, every_steps):
    super().__init__()
    self.manager, self.every_steps = manager, every_steps
    self.saved_step = None

  def save(self):
    """Save the current step unless it is saved already; returns its checkpoint's path."""
    if self.saved_step != self.step:
      sync_model_state(self.model)
      self.manager.save(self.step)
      self.saved_step = self.step
    return os.path.join(self.manager.directory, f"ckpt-{self.step}.npz")

  def on_train_batch_end(self, batch, logs=None):
    super().on_train_batch_end(batch, logs)
    if self.step % self.every_steps == 0:
      self.save()

  def on_train_end(self, logs=None):
    self.save()


class SignalStop(keras.callbacks.Callback):
  """Ctrl-C (SIGINT) or SIGTERM ends training cleanly: the step in progress finishes, the `checkpointer` saves it,
  and TrainingInterrupted is raised, so that `--resume` continues exactly from there. A second signal before that
  stops at once (KeyboardInterrupt: the steps since the last checkpoint are lost). The handlers are set only
  inside `installed()`; place this callback after the Checkpointer, whose step count it reads."""

  SIGNALS = (signal.SIGINT, signal.SIGTERM)

  def __init__(self, checkpointer):
    super().__init__()
    self.checkpointer, self.received = checkpointer, None

  @contextlib.contextmanager
  def installed(self):
    previous = {signum: signal.signal(signum, self._handle) for signum in self.SIGNALS}
    try:
      yield self
    finally:
      for signum, handler in previous.items():
        signal.signal(signum, handler)

  def _handle(self, signum, frame):
    del frame
    if self.received is not None:
      raise KeyboardInterrupt(f"{signal.Signals(signum).name} again: stopped without saving")
    self.received = signum

  def on_train_batch_end(self, batch, logs=None):
    if self.received is not None:
      path = self.checkpointer.save()
      raise TrainingInterrupted(f"{signal.Signals(self.received).name}: training stopped after step "
                                f"{self.checkpointer.step}, saved as {path}; continue with --resume", self.received)


class Progress(StepCallback):
  """One compact progress line: loss, lr, omega, steps/s and ETA, and one line per epoch with validation.

  On a terminal the step line is rewritten in place every step; in a log file it is printed `lines_per_epoch`
  times per epoch (none with step_lines=False). The epoch line follows Validation's measurement (list this
  callback after it).
  """

  def __init__(self, total_steps, steps_per_epoch, stream=None, lines_per_epoch=4, step_lines=True):
    super().__init__()
    self.total_steps, self.steps_per_epoch, self.step_lines = total_steps, steps_per_epoch, step_lines
    self.stream = stream or sys.stdout
    self.interactive = self.stream.isatty()
    self.every = max(1, steps_per_epoch // lines_per_epoch)
    self.window = collections.deque(maxlen=50)  # (time, step) of recent steps for the rate

  def on_train_batch_end(self, batch, logs=None):
    super().on_train_batch_end(batch, logs)
    now = time.time()
    self.window.append((now, self.step))
    if not self.step_lines or not (self.interactive or self.step % self.every == 0 or self.step == self.total_steps):
      return
    logs = logs or {}
    (t0, s0), (t1, s1) = self.window[0], self.window[-1]
    rate = (s1 - s0) / (t1 - t0) if t1 > t0 else 0.0
    eta = (self.total_steps - self.step) / rate if rate else 0.0
    parts = [f"step {self.step}/{self.total_steps}"]
    parts += [f"{name} {float(logs[key]):.4g}" for name, key in (("loss", "loss"), ("lr", "lr"), ("omega", "omega"))
              if key in logs]
    parts += [f"{rate:.2f} steps/s", f"ETA {_duration(eta)}"]
    line = "  ".join(parts)
    self.stream.write(f"\r{line}\033[K" if self.interactive else line + "\n")
    self.stream.flush()

  def on_epoch_end(self, epoch, logs=None):
    logs = logs or {}
    nme = [f"{key.split('/')[1]} {100 * float(logs[key]):.2f}%" for key in sorted(logs)
           if key.startswith("val/") and key.endswith("/fused_nme")]
    line = f"epoch {epoch + 1}: step {self.step}, loss {float(logs.get('loss', float('nan'))):.4g}"
    line += f", validation NME {', '.join(nme)}" if nme else ""
    self.stream.write(("\r" if self.interactive else "") + line + ("\033[K" if self.interactive else "") + "\n")
    self.stream.flush()


def _duration(seconds):
  minutes, seconds = divmod(int(seconds), 60)
  hours, minutes = divmod(minutes, 60)
  return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class RunTensorBoard(keras.callbacks.TensorBoard):
  """Keras' TensorBoard, mended for this driver (private attributes; Keras pinned to 3.15.1):

  * per-step summaries at the run's global step: the driver fits one epoch at a time and a resumed run
    continues its curves, while Keras counts batches from 0 at every fit;
  * the epoch summaries (validation NME of every role and source) are always written: Keras leaves its
    "every update_freq batches" recording condition active at epoch end, so they were dropped unless the
    epoch happened to end on a multiple of update_freq.
  """

  def on_train_begin(self, logs=None):
    super().on_train_begin(logs)
    self._global_train_batch = int(ops.convert_to_numpy(self.model.optimizer.iterations.value))

  def _log_epoch_metrics(self, epoch, logs):
    with self.summary.record_if(True):
      super()._log_epoch_metrics(epoch, logs)


class Validation(keras.callbacks.Callback):
  """At each epoch end: NME of teacher and student (each source) and tracking; adds `val/...` logs and
  appends them to the run's history, `validation.json` (start_history: kept across a resume).

  Args:
    images, landmarks: validation faces uint8 [M, S, S, 3] and [M, N, 2] crop pixels.
    clip_frames, clip_landmarks: validation clips [C, K, S, S, 3], [C, K, N, 2] for tracking (or None).
    normalizer: NME normaliser.
    log_dir: where `validation.json` (history) and image summaries go.
    gamma: fusion weight.
    subsets: optional [M] folder name of each face; with several folders each one's fused NME is logged too
      (`val/<role>/fused_nme/<folder>`).
  """

  def __init__(self, images, landmarks, clip_frames, clip_landmarks, normalizer, log_dir, gamma=0.8,
               num_images=6, subsets=None):
    super().__init__()
    self.images, self.landmarks = images, landmarks
    self.subsets = None if subsets is None or len(set(subsets)) < 2 else np.asarray(subsets)
    self.clip_frames, self.clip_landmarks = clip_frames, clip_landmarks
    self.normalizer, self.log_dir, self.gamma, self.num_images = normalizer, log_dir, gamma, num_images
    self.history_path, self.history = os.path.join(log_dir, "validation.json"), []
    self._writer = None
    self._last = None  # metrics measured at the end of the last epoch of the current fit

  def measure(self):
    results = {}
    for role, net in self.model.evaluated_roles().items():
      summary, errors = evaluation.evaluate_images(net, self.images, self.landmarks, self.normalizer, self.gamma)
      for source, values in summary.items():
        results[f"val/{role}/{source}_nme"] = values["nme"]
      if self.subsets is not None:
        for name in dict.fromkeys(self.subsets.tolist()):
          results[f"val/{role}/fused_nme/{name}"] = float(np.mean(errors["fused"][self.subsets == name]))
      if self.clip_frames is not None:
        tracking, _ = evaluation.evaluate_tracking(net, self.clip_frames, self.clip_landmarks, self.normalizer)
        results[f"val/{role}/tracking_nme"] = tracking["nme"]
    return results

  def final(self):
    """Metrics of the weights as training left them: a fit ends at an epoch end, so the measurement taken
    there is reused; without one (nothing trained) they are measured now."""
    return self._last if self._last is not None else self.measure()

  def start_history(self, step, steps_per_epoch, measured):
    """The history of a run that starts (step 0: none) or resumes from its checkpoint of `step`:
    validation.json's epochs up to the last one that step finished (later ones were measured on weights the
    resumed run trains again), and `measured` (the checkpoint's weights, measured at the resume) as that epoch
    when it ended at `step` but the run was killed before recording it."""
    finished, into_epoch = divmod(step, steps_per_epoch)
    self.history = [entry for entry in _saved_json(self.history_path, []) if entry["epoch"] <= finished]
    if finished and not into_epoch and all(entry["epoch"] != finished for entry in self.history):
      self.history.append({"epoch": finished, **measured})
    self._write_history()

  def on_train_begin(self, logs=None):
    self._last = None

  def on_epoch_end(self, epoch, logs=None):
    results = self._last = self.measure()
    if logs is not None:
      logs.update(results)
    self.history.append({"epoch": epoch + 1, **results})
    self._write_history()
    self._write_images(epoch)

  def _write_history(self):
    atomic_write_json(self.history_path, self.history)

  def _write_images(self, epoch):
    if not tensorflow_available():  # the summary writer is TensorFlow's (under either Keras backend)
      return
    import tensorflow as tf
    from tsal_tf.tools import drawing
    if self._writer is None:
      self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "images"))
    net = self.model.evaluated_network()
    predictions = evaluation.predict_images(net, self.images[:self.num_images], self.gamma)["fused"]
    panels = [drawing.draw_landmarks(image, points, truth, scale=3)
              for image, points, truth in zip(self.images, predictions, self.landmarks)]
    with self._writer.as_default():
      tf.summary.image("predictions (green: prediction, red: ground truth)", np.stack(panels), step=epoch + 1,
                       max_outputs=self.num_images)
    self._writer.flush()
