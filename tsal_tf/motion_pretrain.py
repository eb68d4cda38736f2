"""Motion-field pre-training: the MFE alone on l_E before the TSAL steps (`train --motion_pretrain_steps`).

The MFE's flow head starts at exactly zero (model/motion.py) and a single-frame model (`--clip_length=1`, e.g.
a supervised burn-in) never trains it, so a TSAL phase started from such a model tracks its pseudo-labels with
zero motion: frame 0's detection copied to every frame. On the 300W clips that is 6.7% NME (inter-pupil, the
validation clips), worse than the detector it is meant to teach (5.4%), and 120 TSAL steps of l_E at a
fine-tuning learning rate leave it there (results/semi_supervised.md). This fits the student's motion network
alone on the unsupervised l_E (losses.flow_loss) over the training clips, at a small fraction of a TSAL step's
cost (no landmark network, no teacher), then copies it to the teacher.
"""

import keras

from tsal_tf import evaluation
from tsal_tf import losses
from tsal_tf.model import network


def _frames(batch):
  return keras.ops.cast(batch["frames"], "float32") / 255.0


class MotionPretrainer(keras.Model):
  """A motion network trained alone on l_E: fit() on the training batches ({"frames": uint8 [B, K, S, S, 3]}).

  Only `motion_net`'s weights are this model's: the landmark network of the TSALNetwork it belongs to is
  neither run nor updated.
  """

  def __init__(self, motion_net, smoothness_weight=0.1, ssim_weight=0.0, **kwargs):
    super().__init__(**kwargs)
    self.motion_net = motion_net
    self.smoothness_weight, self.ssim_weight = smoothness_weight, ssim_weight
    self.built = True  # motion_net is built; fit() must not build from a data batch

  def compile(self, optimizer, **kwargs):
    super().compile(optimizer=optimizer, **kwargs)
    self.optimizer.build(self.trainable_variables)

  def _maybe_symbolic_build(self, iterator=None, data_batch=None):
    # Built in __init__ and compile(), as TeacherStudent (private API; Keras pinned to 3.15.1).
    return

  def call(self, batch, training=False):
    return network.clip_flows(self.motion_net, _frames(batch), training)

  def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
    return losses.flow_loss(_frames(x), y_pred, self.smoothness_weight, self.ssim_weight)


def tracking_nme(net, clip_frames, clip_landmarks, normalizer):
  """Validation NME of tracking frame 0's ground truth through `net`'s motion field (evaluate_tracking)."""
  return evaluation.evaluate_tracking(net, clip_frames, clip_landmarks, normalizer)[0]["nme"]


def pretrain_motion(model, make_batches, steps, learning_rate, objective_config, clip_frames, clip_landmarks,
                    normalizer="inter_pupil", reports=4, jit_compile=False):
  """Fit model.student's motion network alone on l_E for `steps` steps, then copy it to model.teacher.

  Args:
    model: a TeacherStudent.
    make_batches: (first batch, number of batches) -> training batches (train.make_batches).
    steps: pre-training steps; learning_rate: Adam's, cosine-decayed to 0 over them.
    objective_config: ObjectiveConfig (l_E's smoothness and SSIM weights).
    clip_frames, clip_landmarks: validation clips [C, K, S, S, 3], [C, K, N, 2] (crop pixels): the tracking
      NME printed `reports` times against the NME of zero motion on the same clips.
  Returns:
    [(step, validation tracking NME)], from step 0.
  """
  trainer = MotionPretrainer(model.student.motion_net, objective_config.smoothness_weight,
                             objective_config.ssim_weight)
  schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
  trainer.compile(keras.optimizers.Adam(schedule), jit_compile=jit_compile)
  zero_motion = evaluation.zero_motion_tracking(clip_landmarks, normalizer)[0]["nme"]
  history = [(0, tracking_nme(model.student, clip_frames, clip_landmarks, normalizer))]
  print(f"motion pre-training: {steps} steps of l_E at learning rate {learning_rate:g}; validation tracking NME "
        f"{100 * history[0][1]:.2f}% (zero motion: {100 * zero_motion:.2f}%)", flush=True)
  done = 0
  for report in range(1, reports + 1):
    chunk = steps * report // reports - done
    if chunk:
      trainer.fit(make_batches(done, chunk), epochs=1, steps_per_epoch=chunk, verbose=0, shuffle=False)
      done += chunk
      history.append((done, tracking_nme(model.student, clip_frames, clip_landmarks, normalizer)))
      print(f"motion pre-training: step {done}, l_E {float(trainer.get_metrics_result()['loss']):.4g}, "
            f"validation tracking NME {100 * history[-1][1]:.2f}%", flush=True)
  for target, source in zip(model.teacher.motion_net.weights, model.student.motion_net.weights):
    target.assign(keras.ops.copy(source.value))  # a buffer of its own: JAX's jitted step donates both networks
  return history
