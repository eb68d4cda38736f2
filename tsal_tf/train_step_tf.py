"""The TensorFlow train step of TeacherStudent (GradientTape; runs under any tf.distribute strategy)."""

import tensorflow as tf


def train_step(model, batch):
  """One TSAL step (see teacher_student): Adam on L^S + L^R, then eq. 8; returns the logs."""
  frames, labels, labeled = model.inputs_of(batch)
  strategy = tf.distribute.get_strategy()
  step = model.optimizer.iterations
  omega = model.omega_at(step)
  logs = {"omega": omega, "lr": model.optimizer.learning_rate}
  # Single frames (clip_length 1) never reach the motion field: only the landmark nets train.
  single_frames = frames.shape[1] == 1
  variables, total = [], 0.0
  # The labeled clips per replica, from the count over all replicas: l_M and l_C average over the labeled
  # clips of the global batch however the replicas' shares happen to be labeled. The scalar all-reduce runs
  # on every step, partial labels or not: with it skipped in one fit, a later MirroredStrategy fit in the same
  # process failed with a collective shape mismatch (tests/test_distribution.py runs both in turn).
  labeled_per_replica = tf.distribute.get_replica_context().all_reduce("SUM", tf.reduce_sum(labeled)) / (
      strategy.num_replicas_in_sync)
  weights = model.label_weights(labeled, labeled_per_replica)
  views = model.guide_views(frames)
  view_heatmaps = None if views is None else model.guiding_network().landmark_net(views, training=False)["heatmaps"]
  with tf.GradientTape() as tape:
    outputs = {role: net(frames, training=True, backward_flows=model.backward_flows)
               for role, net in model.forward_roles(frames.shape[1])}
    guide = model.tracking_guide(outputs, labels, labeled, view_heatmaps)
    for role, net in model.roles():
      terms = model.role_terms(role, net, outputs[role], frames, labels, weights, guide, omega)
      logs.update({f"{role}/{k}": v for k, v in terms.items()})
      total += terms["total"]
      variables += net.landmark_net.trainable_variables if single_frames else net.trainable_variables
    scaled = total / strategy.num_replicas_in_sync
  model.optimizer.apply(tape.gradient(scaled, variables), variables)
  if model.has_teacher:
    # Eq. 8 once per step, in cross-replica context: after the optimizer's all-reduce every replica holds
    # the same student, so the queue and the teacher are updated once and mirrored. The optimizer's iterations
    # now count this step.
    tf.distribute.get_replica_context().merge_call(lambda _: model.queue.update(model.optimizer.iterations))
  logs["loss"] = logs["student/total"]
  if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
    # Keras reduces logs with strategy.reduce(..., axis=0), which rejects scalars under multi-worker
    # collectives ("Invalid reduction dimension 0"); rank-1 logs get past it. Keras pinned to 3.15.1.
    logs = {k: tf.reshape(tf.cast(v, "float32"), [1]) for k, v in logs.items()}
  return logs
