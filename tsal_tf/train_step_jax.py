"""The JAX train step of TeacherStudent (Keras' JAX trainer: a pure function of the model's state).

As in Keras' `custom_train_step_in_jax` guide: `stateless_call` of each network, `jax.value_and_grad` of
L^S + L^R, `optimizer.stateless_apply`, then eq. 8 on the teacher with the queue held as non-trainable state
(teacher_update.functional_update: the arithmetic of StudentWeightQueue.update on arrays).
"""

import jax
import keras

from tsal_tf import teacher_update


def _values_of(values, variables, wanted):
  index = {id(v): i for i, v in enumerate(variables)}
  return [values[index[id(v)]] for v in wanted]


def guide_view_heatmaps(model, trainable, non_trainable, frames):
  """The guiding network's heatmaps on `model.guide_views(frames)` from the values of the model's trainable and
  non-trainable variables, in inference mode (no gradient, no BatchNorm update); None without a flip-test
  guide."""
  views = model.guide_views(frames)
  if views is None:
    return None
  net = model.guiding_network().landmark_net
  outputs, _ = net.stateless_call(_values_of(trainable, model.trainable_variables, net.trainable_variables),
                                  _values_of(non_trainable, model.non_trainable_variables,
                                             net.non_trainable_variables), views, training=False)
  return outputs["heatmaps"]


def train_step(model, state, batch):
  """One TSAL step: (logs, new state) from state = (trainable, non_trainable, optimizer, metrics) values."""
  trainable, non_trainable, optimizer_values, metrics_values = state
  frames, labels, labeled = model.inputs_of(batch)
  # The JAX step sees its whole batch on one device.
  weights = model.label_weights(labeled)
  step = _values_of(optimizer_values, model.optimizer.variables, [model.optimizer.iterations])[0]
  omega = model.omega_at(step)
  view_heatmaps = guide_view_heatmaps(model, trainable, non_trainable, frames)

  def total_loss(trainable_values):
    total, logs, updates, outputs = 0.0, {}, {}, {}
    for role, net in model.forward_roles(frames.shape[1]):
      outputs[role], net_non_trainable = net.stateless_call(
          _values_of(trainable_values, model.trainable_variables, net.trainable_variables),
          _values_of(non_trainable, model.non_trainable_variables, net.non_trainable_variables), frames,
          training=True, backward_flows=model.backward_flows)
      updates.update({id(v): value for v, value in zip(net.non_trainable_variables, net_non_trainable)})
    guide = model.tracking_guide(outputs, labels, labeled, view_heatmaps)
    for role, net in model.roles():
      terms = model.role_terms(role, net, outputs[role], frames, labels, weights, guide, omega)
      total = total + terms["total"]
      logs.update({f"{role}/{k}": v for k, v in terms.items()})
    return total, (logs, updates)

  (_, (logs, updates)), gradients = jax.value_and_grad(total_loss, has_aux=True)(trainable)
  with keras.StatelessScope(state_mapping=list(zip(model.optimizer.variables, optimizer_values))):
    # The schedule at this step's iteration; a constant rate is a variable, read through the scope's mapping.
    logs.update(omega=omega, lr=keras.ops.convert_to_tensor(model.optimizer.learning_rate))
  trainable, optimizer_values = model.optimizer.stateless_apply(optimizer_values, gradients, trainable)
  # Every variable's slot in the new state: ("t", i) trainable, ("n", i) non-trainable (BatchNorm statistics,
  # the eq. 8 queue).
  slot = {id(v): ("t", i) for i, v in enumerate(model.trainable_variables)}
  slot.update({id(v): ("n", i) for i, v in enumerate(model.non_trainable_variables)})
  values = {"t": list(trainable), "n": list(non_trainable)}
  get = lambda variables: [values[slot[id(v)][0]][slot[id(v)][1]] for v in variables]

  def put(variables, new_values):
    for variable, value in zip(variables, new_values):
      kind, i = slot[id(variable)]
      values[kind][i] = value

  for variable_id, value in updates.items():  # BatchNorm moving statistics of the networks that ran
    kind, i = slot[variable_id]
    values[kind][i] = value
  if model.has_teacher:  # eq. 8 over all of the teacher's weights, BN statistics included (as under TF)
    queue = model.queue
    slots, sums, position, count, teacher = teacher_update.functional_update(
        get(queue.slots), get(queue.sums), get([queue.position])[0], get([queue.count])[0],
        get(model.student.weights), get(model.teacher.weights), queue.length, queue.ema_lambda, queue.swa_start,
        step + 1, queue.warmup, get(queue.previous))
    put(queue.slots + queue.sums + [queue.position, queue.count], slots + sums + [position, count])
    put(model.teacher.weights, teacher)
    put(queue.previous, teacher)  # an average_tail queue's copy of this update's teacher (none otherwise)
  logs["loss"] = logs["student/total"]
  return logs, (values["t"], values["n"], optimizer_values, metrics_values)
