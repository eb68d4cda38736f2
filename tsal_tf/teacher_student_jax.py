"""The TSAL teacher-student model with a JAX train step (Keras 3, KERAS_BACKEND=jax; no TensorFlow needed).

Same networks, objective (eq. 1-7) and eq. 8 as the TensorFlow path; only the step differs. One Adam over the
union of both networks' weights is exactly two Adams with the same settings (Adam is per parameter), so the
step is written as in Keras' `custom_train_step_in_jax` guide: `stateless_call` of each network,
`jax.value_and_grad` of L^S(student) + L^R(teacher) (disjoint parameters, so each gets its own gradient),
`optimizer.stateless_apply`, then eq. 8 on the teacher with the queue held as non-trainable state.
"""

import jax
import keras
from keras import ops

from tsal_tf import losses
from tsal_tf import objective
from tsal_tf import teacher_update
from tsal_tf.model import decoders
from tsal_tf.model import network


class JaxTeacherStudent(keras.Model):

  def __init__(self, net_config, objective_config, steps_per_epoch, omega_epochs=(60.0, 110.0, 140.0),
               async_learning=True, queue_length=4, ema_lambda=0.99, **kwargs):
    super().__init__(**kwargs)
    self.net_config, self.objective_config = net_config, objective_config
    self.steps_per_epoch, self.omega_epochs = steps_per_epoch, omega_epochs
    self.async_learning, self.queue_length, self.ema_lambda = async_learning, queue_length, ema_lambda
    self.student = network.build_network(net_config, "student")
    self.teacher = network.build_network(net_config, "teacher")
    for target, source in zip(self.teacher.weights, self.student.weights):
      target.assign(ops.copy(source.value))  # a copy: JAX must not see one buffer twice
    self.queue = teacher_update.StudentWeightQueue(self.student, self.teacher, queue_length, ema_lambda)
    self.queue_state = list(self.queue.variables)  # tracked, so the queue travels in the step's state
    self.step_counter = keras.Variable(0, dtype="int32", trainable=False, name="step")
    self.built = True  # both networks are built; fit() must not try to build from a data batch

  def compile(self, optimizer, **kwargs):
    super().compile(optimizer=optimizer, **kwargs)
    self.optimizer.build(self.trainable_variables)

  def call(self, frames, training=False):
    return self.teacher(frames, training=training)

  def evaluated_network(self):
    return self.teacher if self.async_learning else self.student

  def _split(self, values, variables, wanted):
    index = {id(v): i for i, v in enumerate(variables)}
    return [values[index[id(v)]] for v in wanted]

  def train_step(self, state, data):
    trainable, non_trainable, optimizer_variables, metrics_variables = state
    frames = ops.cast(data["frames"], "float32") / 255.0
    labels = decoders.to_heatmap_coords(data["landmarks"][:, 0], self.net_config.heatmap_stride)
    step = self._split(non_trainable, self.non_trainable_variables, [self.step_counter])[0]
    omega = losses.omega(ops.cast(step, "float32") / float(self.steps_per_epoch), *self.omega_epochs)
    roles = [("student", self.student)] + ([("teacher", self.teacher)] if self.async_learning else [])

    def total_loss(trainable_values):
      total, logs, updates = 0.0, {}, {}
      for role, net in roles:
        outputs, net_non_trainable = net.stateless_call(
            self._split(trainable_values, self.trainable_variables, net.trainable_variables),
            self._split(non_trainable, self.non_trainable_variables, net.non_trainable_variables), frames,
            training=True)
        updates.update({id(v): value for v, value in zip(net.non_trainable_variables, net_non_trainable)})
        terms = objective.network_objective(outputs, frames, labels, omega, role, self.objective_config,
                                              net.config.heatmap_decoder)
        total = total + terms["total"]
        logs.update({f"{role}/{k}": v for k, v in terms.items()})
      return total, (logs, updates)

    (_, (logs, updates)), gradients = jax.value_and_grad(total_loss, has_aux=True)(trainable)
    trainable, optimizer_variables = self.optimizer.stateless_apply(optimizer_variables, gradients, trainable)
    trainable, non_trainable = list(trainable), list(non_trainable)
    # Every variable's slot in the step's state: ("t", i) trainable, ("n", i) non-trainable (BN statistics,
    # the step counter, the eq. 8 queue).
    slot = {id(v): ("t", i) for i, v in enumerate(self.trainable_variables)}
    slot.update({id(v): ("n", i) for i, v in enumerate(self.non_trainable_variables)})
    state = {"t": trainable, "n": non_trainable}
    get = lambda variables: [state[slot[id(v)][0]][slot[id(v)][1]] for v in variables]

    def put(variables, values):
      for variable, value in zip(variables, values):
        kind, i = slot[id(variable)]
        state[kind][i] = value

    for variable_id, value in updates.items():  # BatchNorm moving statistics of the networks that ran
      kind, i = slot[variable_id]
      state[kind][i] = value
    put([self.step_counter], [step + 1])
    if self.async_learning:  # eq. 8 over all of the teacher's weights, BN statistics included (as under TF)
      queue = self.queue
      slots, sums, position, count, teacher = teacher_update.functional_update(
          get(queue.slots), get(queue.sums), get([queue.position])[0], get([queue.count])[0],
          get(self.student.weights), get(self.teacher.weights), self.queue_length, self.ema_lambda)
      put(queue.slots + queue.sums + [queue.position, queue.count], slots + sums + [position, count])
      put(self.teacher.weights, teacher)
    logs["loss"] = logs["student/total"]
    logs["omega"] = omega
    return logs, (trainable, non_trainable, optimizer_variables, metrics_variables)
