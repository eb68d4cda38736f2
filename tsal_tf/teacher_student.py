"""The TSAL teacher-student model with the TensorFlow train step (runs under any tf.distribute strategy).

One step on a batch of clips (Algorithm 1, lines 2-3; eq. 8 follows in callbacks.TeacherUpdate):
    student: L^S = l_s^S + omega(t) L_d^S  (eq. 7)  ->  Adam step on the student
    teacher: L^R = l_s^R + omega(t) L_d^R  (eq. 6)  ->  Adam step on the teacher
With asynchronous learning off (`async_learning=False`, Table 3 "single model") only the student trains.

Replica-correct reduction: every loss term is a mean over the replica's share of the batch, the total is
divided by the number of replicas and the optimizers sum gradients across replicas, so a step on R
replicas equals a step on one device with the whole batch (tests/test_distribution.py).
"""

import keras
import tensorflow as tf

from tsal_tf import losses
from tsal_tf import objective
from tsal_tf.model import decoders
from tsal_tf.model import network


class TeacherStudent(keras.Model):
  """Two TSALNetworks of identical structure and their two optimizers."""

  def __init__(self, net_config, objective_config, steps_per_epoch, omega_epochs=(60.0, 110.0, 140.0),
               async_learning=True, **kwargs):
    super().__init__(**kwargs)
    self.net_config = net_config
    self.objective_config = objective_config
    self.steps_per_epoch = steps_per_epoch
    self.omega_epochs = omega_epochs
    self.async_learning = async_learning
    self.student = network.build_network(net_config, "student")
    self.teacher = network.build_network(net_config, "teacher")
    for target, source in zip(self.teacher.weights, self.student.weights):
      target.assign(source.value)  # the teacher starts as a copy of the student (mean teacher)

  def compile(self, student_optimizer, teacher_optimizer):
    super().compile(optimizer=student_optimizer, jit_compile=False)  # custom ops have no XLA kernels
    self.student_optimizer = student_optimizer
    self.teacher_optimizer = teacher_optimizer
    self.student_optimizer.build(self.student.trainable_variables)
    self.teacher_optimizer.build(self.teacher.trainable_variables)

  def _maybe_symbolic_build(self, iterator=None, data_batch=None):
    # Both networks are built in __init__ and the optimizers in compile(). Keras' symbolic build would
    # pull a batch and reduce it with strategy.reduce("MEAN", ...) on the whole structure, which fails
    # under MultiWorkerMirroredStrategy (keras-team/keras#20585). Private API; Keras pinned to 3.15.1.
    return

  def call(self, frames, training=False):
    return self.teacher(frames, training=training)

  def epoch(self):
    return tf.cast(self.student_optimizer.iterations, "float32") / float(self.steps_per_epoch)

  def _step(self, net, optimizer, frames, labels, omega, role, replicas):
    # Single frames (clip_length 1) never reach the motion field: only the landmark net trains.
    variables = net.trainable_variables if frames.shape[1] > 1 else net.landmark_net.trainable_variables
    with tf.GradientTape() as tape:
      outputs = net(frames, training=True)
      terms = objective.network_objective(outputs, frames, labels, omega, role, self.objective_config,
                                              net.config.heatmap_decoder)
      scaled = terms["total"] / replicas
    gradients = tape.gradient(scaled, variables)
    optimizer.apply(gradients, variables)
    return terms

  def train_step(self, data):
    frames = tf.cast(data["frames"], "float32") / 255.0
    labels = decoders.to_heatmap_coords(data["landmarks"][:, 0], self.net_config.heatmap_stride)
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    omega = losses.omega(self.epoch(), *self.omega_epochs)
    logs = {"omega": omega, "lr": self.student_optimizer.learning_rate}
    student_terms = self._step(self.student, self.student_optimizer, frames, labels, omega, "student", replicas)
    logs.update({f"student/{k}": v for k, v in student_terms.items()})
    if self.async_learning:
      teacher_terms = self._step(self.teacher, self.teacher_optimizer, frames, labels, omega, "teacher",
                                 replicas)
      logs.update({f"teacher/{k}": v for k, v in teacher_terms.items()})
    logs["loss"] = logs["student/total"]
    if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
      # Keras reduces logs with strategy.reduce(..., axis=0), which rejects scalars under multi-worker
      # collectives ("Invalid reduction dimension 0"); rank-1 logs get past it. Keras pinned to 3.15.1.
      logs = {k: tf.reshape(tf.cast(v, "float32"), [1]) for k, v in logs.items()}
    return logs

  def evaluated_network(self):
    """The network a user gets: the teacher with asynchronous learning, otherwise the single model."""
    return self.teacher if self.async_learning else self.student
