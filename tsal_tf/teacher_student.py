"""The TSAL teacher-student model: one class for the TensorFlow and the JAX backend.

One step on a batch of clips (Algorithm 1, lines 2-4):
    student: L^S = l_s^S + omega(t) L_d^S  (eq. 7)
    teacher: L^R = l_s^R + omega(t) L_d^R  (eq. 6)
    one Adam step on L^S + L^R over the weights of both networks, then eq. 8 on the teacher:
    theta_R <- lambda theta_R + (1 - lambda) Avg(queue of the last v student weights).
The two networks share no weight, so d(L^S + L^R)/d theta_S = dL^S/d theta_S and likewise for the teacher, and
Adam is per parameter: one optimizer over both is exactly two optimizers with the same settings. Where eq. 8
drops the teacher's own steps (the average tail of tail_teacher="average"), the step leaves L^R out
(`train_teacher_at`, switched by callbacks.TeacherSteps): the same weights at about half the cost. With
asynchronous learning off (`async_learning=False`, Table 3 "single model") only the student trains; with
`average_student` as well, eq. 8 still runs after every step and the untrained teacher is a moving average of
the student's weights (v = 1: the exponential moving average of Polyak averaging), the network a user gets.

Only the step itself depends on the backend (`train_step`): under TensorFlow a GradientTape step that runs
under any tf.distribute strategy (every term is a mean over the replica's share of the batch and the total is
divided by the number of replicas, so a step on R replicas equals one step on the whole batch,
tests/test_distribution.py); under JAX the functional `stateless_call` step of Keras' JAX trainer.
"""

import keras
from keras import ops

from tsal_tf import losses
from tsal_tf import objective
from tsal_tf import prebuilt_model
from tsal_tf import runs
from tsal_tf import teacher_update
from tsal_tf.data import schemes
from tsal_tf.model import decoders
from tsal_tf.model import network


def labeled_mean_weights(labeled, labeled_per_replica=None):
  """Example weights [B] that turn a mean over the batch into the mean over its labeled clips:
  w_b = labeled_b * B / n, with n the labeled clips per replica (this batch's count, or under a tf.distribute
  strategy the all-reduced count over the replicas divided by their number), so that the replicas' mean of the
  weighted terms is the mean over the labeled clips of the global batch."""
  count = ops.sum(labeled) if labeled_per_replica is None else labeled_per_replica
  return labeled * ops.cast(ops.shape(labeled)[0], "float32") / ops.maximum(count, 1e-6)


def _where_labeled(labeled, labels, otherwise):
  """Per clip: labels [B, N, 2] where labeled [B] > 0, else `otherwise`."""
  return ops.where(ops.reshape(labeled, (-1, 1, 1)) > 0, labels, otherwise)


class TeacherStudent(prebuilt_model.PrebuiltModel):
  """Two TSALNetworks of identical structure, the eq. 8 queue and one optimizer over both.

  Args:
    net_config: NetworkConfig of both networks.
    objective_config: ObjectiveConfig.
    steps_per_epoch: steps of one epoch (omega(t) is a function of the epoch t).
    omega_epochs: (climb end, retain end, total) epochs of omega(t) (losses.omega).
    async_learning: train the teacher and apply eq. 8 (off: the supervised single model).
    average_student: with async_learning off, apply eq. 8 to the untrained teacher, which then holds a moving
      average of the student's weights (its lambda warmed up: teacher_update) and is the evaluated network.
    queue_length, ema_lambda: v and lambda of eq. 8.
    swa_start: steps after which eq. 8's window grows to a uniform mean of the student's weights
      (teacher_update: stochastic weight averaging); None: the moving average alone.
    tail_teacher: "trained" keeps a trained teacher's own steps in that tail, "average" drops them (the tail's
      teacher is the students' uniform mean: teacher_update's average_tail); without async_learning (no
      steps of the teacher's own) or without a tail both values train the same.
    partial_labels: some training clips may have no frame-0 label (--label_fraction below 1 with clips,
      unlabeled videos): l_M and l_C average over the labeled clips (`label_weights`) and the unlabeled clips
      track from the guiding network's detection (`guiding_role`, `tracking_guide`). False is a promise that
      every clip is labeled (`build_data(...).partial_labels` knows): a step then skips both, and an unlabeled
      clip would train toward the masked label (0, 0).
    guide_flip_test: an unlabeled clip's tracking guide is the flip test of the guiding network's detection of
      frame 0 (`guide_views`, `decoders.flip_test_lhr`, inference mode) instead of its plain detection.
    mirror_shift: the flip test's mirror shift in crop pixels (`augment.centre_mirror_shift`: exact for the
      un-augmented centre crop, approximate for a rotated or zoomed one).
  """

  def __init__(self, net_config, objective_config, steps_per_epoch, omega_epochs=(60.0, 110.0, 140.0),
               async_learning=True, average_student=False, queue_length=4, ema_lambda=0.99, swa_start=None,
               tail_teacher="trained", partial_labels=True, guide_flip_test=False, mirror_shift=0.0, **kwargs):
    super().__init__(**kwargs)
    self.net_config, self.objective_config = net_config, objective_config
    self.steps_per_epoch, self.omega_epochs = steps_per_epoch, omega_epochs
    self.async_learning, self.partial_labels = async_learning, partial_labels
    self.guide_flip_test, self.mirror_shift = guide_flip_test, mirror_shift
    # Eq. 8 runs after every step: on the trained teacher (asynchronous learning) or on an untrained one
    # (the same rule, read from a run's flags: runs.has_teacher).
    self.has_teacher = async_learning or average_student
    self.student = network.build_network(net_config, "student")
    self.teacher = network.build_network(net_config, "teacher")
    for target, source in zip(self.teacher.weights, self.student.weights):
      target.assign(ops.copy(source.value))  # the teacher starts as a copy of the student (mean teacher)
    # An untrained teacher is nothing but the average: its lambda warms up (teacher_update).
    self.queue = teacher_update.StudentWeightQueue(self.student, self.teacher, queue_length, ema_lambda,
                                                   swa_start, warmup=not async_learning,
                                                   average_tail=(async_learning and swa_start is not None
                                                                 and tail_teacher == "average"))
    self.queue_state = list(self.queue.variables)  # tracked: the queue is part of the model's state
    self.teacher_trains = async_learning  # switched off where eq. 8 drops the teacher's steps (train_teacher_at)
    self.built = True  # both networks are built; fit() must not try to build from a data batch

  def call(self, frames, training=False):
    return self.teacher(frames, training=training)

  @property
  def backward_flows(self):
    """Whether the train step asks each network for its backward flows: the forward-backward gate reads them."""
    return self.objective_config.fb_gate > 0

  def evaluated_network(self):
    """The network a user gets: the teacher when eq. 8 runs (`has_teacher`), otherwise the single model."""
    return self.teacher if self.has_teacher else self.student

  def evaluated_roles(self):
    """{role: network} of the validation: the teacher (when eq. 8 runs) and the student."""
    return runs.roles_to_evaluate(self.has_teacher, self.teacher, self.student)

  def roles(self):
    """(role, network) pairs that train: the student, and the teacher with asynchronous learning until eq. 8
    starts dropping its steps (`teacher_trains`)."""
    return [("student", self.student)] + ([("teacher", self.teacher)] if self.teacher_trains else [])

  def forward_roles(self, num_frames):
    """(role, network) pairs the train step runs on a batch of clips of `num_frames`: the trained `roles`, and
    the guiding network when only its detection guides some clips' tracking (`tracking_guide`)."""
    trained = self.roles()
    guide = self.guiding_role()
    if self._detection_guides(num_frames) and guide not in dict(trained):
      return trained + [(guide, self.guiding_network())]
    return trained

  def first_untrained_teacher_step(self):
    """The first step from which the teacher's own steps are lost: with an average tail (tail_teacher="average")
    eq. 8 starts each tail update from the previous update's teacher (teacher_update), so from there on the
    train step leaves the teacher's loss and its backward pass out, and both networks' weights stay those of a
    step that computed them. None where every step of the teacher counts."""
    return self.queue.first_dropping_step() if self.async_learning else None

  def train_teacher_at(self, step):
    """Set `teacher_trains` for the steps from `step` (the steps taken) on; a change rebuilds the compiled train
    function (once per run: a TSAL step then costs about half as much)."""
    first = self.first_untrained_teacher_step()
    trains = self.async_learning and (first is None or step < first)
    if trains != self.teacher_trains:
      self.teacher_trains = trains
      if self.train_function is not None:
        self.make_train_function(force=True)

  def checkpoint_groups(self):
    """Everything an exact resume needs, as {group: [variables]} (tsal_tf.checkpoints)."""
    return {"student": self.student.weights, "teacher": self.teacher.weights,
            "optimizer": self.optimizer.variables, "queue": self.queue.variables}

  def inputs_of(self, batch):
    """Frames [B, K, S, S, 3] in [0, 1], the frame-0 labels [B, N, 2] in heatmap coordinates (0 where a clip is
    unlabeled, so that no NaN of a missing annotation reaches a loss) and labeled [B] (1.0 or 0.0)."""
    frames = ops.cast(batch["frames"], "float32") / 255.0
    labeled = ops.cast(batch["labeled"][:, 0], "float32")
    labels = decoders.to_heatmap_coords(batch["landmarks"][:, 0], self.net_config.heatmap_stride)
    return frames, _where_labeled(labeled, labels, 0.0), labeled

  def label_weights(self, labeled, labeled_per_replica=None):
    """Example weights [B] of l_M and l_C (`labeled_mean_weights`); None without partial labels (every weight
    would be 1)."""
    return labeled_mean_weights(labeled, labeled_per_replica) if self.partial_labels else None

  def guiding_role(self):
    """The network whose frame-0 detection guides the unlabeled clips' tracking: the teacher with asynchronous
    learning, otherwise the student (--average_student included)."""
    return "teacher" if self.async_learning else "student"

  def guiding_network(self):
    """The network of `guiding_role`."""
    return self.teacher if self.guiding_role() == "teacher" else self.student

  def _detection_guides(self, num_frames):
    """Whether some clips' tracking starts from a detection: clips of several frames, some unlabeled."""
    return num_frames > 1 and self.partial_labels

  def guide_views(self, frames):
    """Frame 0 of every clip followed by its mirror image, [2B, S, S, 3]: the images that the guiding network's
    landmark net sees in inference mode for a flip-test guide (`tracking_guide`). None without one."""
    if not (self.guide_flip_test and self._detection_guides(frames.shape[1])):
      return None
    first = frames[:, 0]
    return ops.concatenate([first, ops.flip(first, axis=2)], axis=0)

  def tracking_guide(self, outputs, labels, labeled, view_heatmaps=None):
    """Where the pseudo-labels' tracking starts, [B, N, 2]: the label of a labeled clip, otherwise the guiding
    network's detection of frame 0, stop-gradient: p_M(0) read from its outputs on the batch, or with
    `view_heatmaps` (its heatmaps on `guide_views`) the flip test of that detection.

    outputs: {role: outputs of that network on the batch}. None for single frames (nothing is tracked) and
    without partial labels (the guide is the labels).
    """
    if not self._detection_guides(outputs["student"]["heatmaps"].shape[1]):
      return None
    heatmaps = outputs[self.guiding_role()]["heatmaps"]
    decoder = self.net_config.heatmap_decoder
    if view_heatmaps is None:
      detected, _ = decoders.decode_lhr(heatmaps[:, 0], decoder)
    else:
      permutation = schemes.scheme_for(self.net_config.num_points).flip_permutation
      detected = decoders.flip_test_lhr(view_heatmaps, permutation, decoder,
                                        self.mirror_shift / self.net_config.heatmap_stride)
    return _where_labeled(labeled, labels, ops.stop_gradient(detected))

  def omega_at(self, step):
    return losses.omega(ops.cast(step, "float32") / float(self.steps_per_epoch), *self.omega_epochs)

  def role_terms(self, role, net, outputs, frames, labels, label_weights, guide, omega):
    return objective.network_objective(outputs, frames, labels, omega, role, self.objective_config,
                                       net.config.heatmap_decoder, label_weights, guide)

  def train_step(self, *args):
    if keras.backend.backend() == "jax":
      from tsal_tf import train_step_jax
      return train_step_jax.train_step(self, *args)
    from tsal_tf import train_step_tf
    return train_step_tf.train_step(self, *args)
