"""Keras callbacks of the training job: eq. 8 teacher update, NaN guard, checkpoints, validation."""

import json
import math
import os
import time

import keras
import numpy as np

from tsal_tf import evaluation
from tsal_tf.io_utils import atomic_write_json


class TrainingDivergedError(RuntimeError):
  """A loss term became NaN/Inf; the message names the step and the term."""


class TeacherUpdate(keras.callbacks.Callback):
  """After every step: push the student's weights into the queue and apply eq. 8 to the teacher."""

  def __init__(self, queue):
    super().__init__()
    self.queue = queue
    self._update = queue.update
    if keras.backend.backend() == "tensorflow":
      import tensorflow as tf
      self._update = tf.function(queue.update)  # one graph call: the queue stays on device

  def on_train_batch_end(self, batch, logs=None):
    self._update()


class TimeLimit(keras.callbacks.Callback):
  """Stop training after the first step that ends more than `minutes` after training began.

  For machines lent for a fixed time (the GPU run of tools/gpu_train.sh): the weights trained so far are
  still saved. `stopped_at_step` is the number of steps taken when it stopped (None if it never did).
  """

  def __init__(self, minutes):
    super().__init__()
    self.seconds = 60.0 * minutes
    self.steps = 0
    self.stopped_at_step = None

  def on_train_begin(self, logs=None):
    self.start = time.time()

  def on_train_batch_end(self, batch, logs=None):
    self.steps += 1
    if time.time() - self.start > self.seconds and self.stopped_at_step is None:
      self.stopped_at_step = self.steps
      self.model.stop_training = True
      print(f"\ntime limit of {self.seconds / 60:.1f} min reached after {self.steps} steps: stopping", flush=True)


class TrainClock(keras.callbacks.Callback):
  """Training time of a run across resumes: <run_dir>/train_clock.json.

  {"steps", "seconds", "epochs": [{"steps", "seconds"} at each epoch end]}: `seconds` is the wall time spent
  in fit (steps, data waits and the per-epoch validation), summed over every process that trained the run.
  Written at each epoch end and at the end of training (a killed run loses at most the time since its last
  epoch end, as it loses the steps since its last checkpoint).
  """

  def __init__(self, path, step_variable):
    super().__init__()
    self.path, self.step_variable = path, step_variable
    self.previous, self.epochs, self.start = 0.0, [], None
    if os.path.isfile(path):
      with open(path, encoding="utf-8") as f:
        saved = json.load(f)
      self.previous, self.epochs = float(saved["seconds"]), list(saved.get("epochs", []))

  def seconds(self):
    return self.previous + (time.time() - self.start if self.start is not None else 0.0)

  def on_train_begin(self, logs=None):
    self.start = time.time()

  def _write(self):
    atomic_write_json(self.path, {"steps": int(self.step_variable.numpy()), "seconds": self.seconds(),
                                  "epochs": self.epochs})

  def on_epoch_end(self, epoch, logs=None):
    self.epochs.append({"steps": int(self.step_variable.numpy()), "seconds": self.seconds()})
    self._write()

  def on_train_end(self, logs=None):
    self._write()
    self.previous, self.start = self.seconds(), None


class NaNGuard(keras.callbacks.Callback):
  """Stop with TrainingDivergedError at the first non-finite loss term (before any checkpoint of it)."""

  def __init__(self, step_variable):
    super().__init__()
    self.step_variable = step_variable

  def on_train_batch_end(self, batch, logs=None):
    for name, value in (logs or {}).items():
      value = float(value)
      if not math.isfinite(value):
        step = int(self.step_variable.numpy() if hasattr(self.step_variable, "numpy") else self.step_variable)
        self.model.stop_training = True
        raise TrainingDivergedError(
            f"loss term {name!r} is {value} at step {step}; training stopped. The last good checkpoint is "
            f"kept: lower the learning rate or the weight of {name.split('/')[-1]!r} and resume with --resume.")


class Checkpointer(keras.callbacks.Callback):
  """Write a tf.train checkpoint (atomic, rotated) every `every_steps` steps and at the end of training."""

  def __init__(self, manager, step_variable, every_steps):
    super().__init__()
    self.manager, self.step_variable, self.every_steps = manager, step_variable, every_steps

  def on_train_batch_end(self, batch, logs=None):
    step = int(self.step_variable.numpy())
    if step % self.every_steps == 0:
      self.manager.save(checkpoint_number=step)

  def on_train_end(self, logs=None):
    step = int(self.step_variable.numpy())
    if self.manager.latest_checkpoint is None or not self.manager.latest_checkpoint.endswith(f"-{step}"):
      self.manager.save(checkpoint_number=step)


class Validation(keras.callbacks.Callback):
  """At each epoch end: NME of teacher and student (each source) and tracking; adds `val/...` logs.

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
    self.history = []
    self._writer = None
    self._last = None  # metrics measured at the end of the last epoch of the current fit

  def measure(self):
    results = {}
    roles = {"teacher": self.model.teacher, "student": self.model.student} if self.model.async_learning else {
        "student": self.model.student}
    for role, net in roles.items():
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

  def on_train_begin(self, logs=None):
    self._last = None

  def on_epoch_end(self, epoch, logs=None):
    results = self._last = self.measure()
    if logs is not None:
      logs.update(results)
    self.history.append({"epoch": epoch + 1, **results})
    atomic_write_json(os.path.join(self.log_dir, "validation.json"), self.history)
    self._write_images(epoch)

  def _write_images(self, epoch):
    if keras.backend.backend() != "tensorflow":
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
