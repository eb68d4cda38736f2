"""Where each term's gradient goes: pseudo-labels are targets (stop-gradient), L_D trains only the motion field."""

import numpy as np
import pytest
import tensorflow as tf

from tsal_tf import objective
from tsal_tf.model import network
from tsal_tf.model.config import NetworkConfig

CONFIG = NetworkConfig(input_size=32, widths=(8, 16), head_width=8, flow_widths=(8, 16), flow_scales=2)


def _gradients(role):
  """{term: {variable path: max |gradient|}} of one network's objective on a random clip batch."""
  tf.keras.utils.set_random_seed(0)
  net = network.build_network(CONFIG, role)
  rng = np.random.default_rng(0)
  frames = tf.constant(rng.uniform(0, 1, (2, 3, 32, 32, 3)), tf.float32)
  labels = tf.constant(rng.uniform(3, 13, (2, 68, 2)), tf.float32)
  with tf.GradientTape(persistent=True) as tape:
    terms = objective.network_objective(net(frames, training=True), frames, labels, 1.0, role,
                                        objective.ObjectiveConfig())
  variables = net.trainable_variables
  result = {}
  for term in ("L_d", "L_D", "l_M"):
    grads = tape.gradient(terms[term], variables)
    result[term] = {v.path: 0.0 if g is None else float(tf.reduce_max(tf.abs(g))) for v, g in zip(variables, grads)}
  return result, {v.path for v in net.motion_net.trainable_variables}


@pytest.mark.parametrize("role", ["student", "teacher"])
def test_pseudo_label_loss_trains_the_heatmaps_only(role):
  grads, motion = _gradients(role)
  pseudo = grads["L_d"]
  # The tracked targets (motion field) and the student's p_C part are stop-gradient: no gradient there.
  assert all(pseudo[p] == 0.0 for p in motion)
  clor = [path for path in pseudo if path.startswith(("centre", "offsets"))]
  assert clor and all(pseudo[path] == 0.0 for path in clor)
  assert pseudo["heatmaps/kernel"] > 0.0 and pseudo["stem_conv/kernel"] > 0.0


def test_motion_deviation_loss_trains_the_motion_field_only():
  grads, motion = _gradients("student")
  deviation = grads["L_D"]
  assert all(value == 0.0 for path, value in deviation.items() if path not in motion)  # p_M is a target
  assert max(deviation[p] for p in motion) > 0.0
  assert all(grads["l_M"][p] == 0.0 for p in motion)  # the labeled heatmap loss never reaches the flow
