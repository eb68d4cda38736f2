"""Motion-field pre-training: the MFE alone on l_E before the TSAL steps (`train --motion_pretrain_steps`).

The MFE's flow head starts at exactly zero (model/motion.py) and a model trained on single frames
(`--clip_length=1`, e.g. a supervised burn-in) never trains it: a TSAL phase started from such a model tracks
its pseudo-labels with no motion, frame 0's detection copied to every frame (results/semi_supervised.md). This
fits the student's motion network alone on the unsupervised flow_weight * l_E (losses.flow_loss) over the
training clips, at a small fraction of a TSAL step's cost (no landmark network, no teacher), then copies it to
the teacher.
"""

import keras

from tsal_tf import evaluation
from tsal_tf import losses
from tsal_tf import prebuilt_model
from tsal_tf import runs
from tsal_tf.model import network


def _frames(batch):
  return keras.ops.cast(batch["frames"], "float32") / 255.0


def _per_replica(loss):
  """A replica's share of the loss under a TensorFlow strategy (the replicas' gradients are summed), as in
  train_step_tf."""
  if keras.backend.backend() != "tensorflow":
    return loss
  import tensorflow as tf
  return loss / tf.distribute.get_strategy().num_replicas_in_sync


class MotionPretrainer(prebuilt_model.PrebuiltModel):
  """A motion network trained alone on flow_weight * l_E: fit() on the training batches
  ({"frames": uint8 [B, K, S, S, 3]}).

  Only `motion_net`'s weights are this model's: the landmark network of the TSALNetwork it belongs to is
  neither run nor updated.
  """

  def __init__(self, motion_net, objective_config, **kwargs):
    super().__init__(**kwargs)
    self.motion_net, self.objective_config = motion_net, objective_config
    self.built = True  # motion_net is built; fit() must not build from a data batch

  def call(self, batch, training=False):
    return network.clip_flows(self.motion_net, _frames(batch), training)

  def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
    config = self.objective_config
    return _per_replica(config.flow_weight * losses.flow_loss(_frames(x), y_pred, config.smoothness_weight,
                                                              config.ssim_weight))


def pretrain_motion(model, make_batches, steps, learning_rate, objective_config, clip_frames=None,
                    clip_landmarks=None, normalizer="inter_pupil", reports=4, jit_compile=False):
  """Fit model.student's motion network alone on l_E for `steps` steps, then copy it to model.teacher.

  Args:
    model: a TeacherStudent (its `student` and `teacher` networks).
    make_batches: (first batch, number of batches) -> training batches (train.make_batches).
    steps: pre-training steps; learning_rate: Adam's, cosine-decayed to 0 over them.
    objective_config: ObjectiveConfig (l_E's weights).
    clip_frames, clip_landmarks: validation clips [C, K, S, S, 3], [C, K, N, 2] (crop pixels), or None: the
      tracking NME is measured `reports` times and printed against the NME of no motion on the same clips.
  Returns:
    [(step, validation tracking NME or None without clips)], from step 0.
  """
  trainer = MotionPretrainer(model.student.motion_net, objective_config)
  schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
  trainer.compile(keras.optimizers.Adam(schedule), jit_compile=jit_compile)

  def tracking():
    if clip_frames is None:
      return None
    return evaluation.evaluate_tracking(model.student, clip_frames, clip_landmarks, normalizer)[0]["nme"]

  history = [(0, tracking())]
  measured = "" if clip_frames is None else (
      f"; validation tracking NME {100 * history[0][1]:.2f}% (no motion: "
      f"{100 * evaluation.zero_motion_tracking(clip_landmarks, normalizer)[0]['nme']:.2f}%)")
  print(f"motion pre-training: {steps} steps of l_E at learning rate {learning_rate:g}{measured}", flush=True)
  done = 0
  for report in range(1, reports + 1):
    chunk = steps * report // reports - done
    if chunk:
      trainer.fit(make_batches(done, chunk), epochs=1, steps_per_epoch=chunk, verbose=0, shuffle=False)
      done += chunk
      history.append((done, tracking()))
      measured = "" if history[-1][1] is None else f", validation tracking NME {100 * history[-1][1]:.2f}%"
      print(f"motion pre-training: step {done}, l_E {float(trainer.get_metrics_result()['loss']):.4g}{measured}",
            flush=True)
  runs.copy_weights(model.student.motion_net, model.teacher.motion_net, "the student's motion network")
  return history
