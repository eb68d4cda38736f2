"""Replica-correct reduction: one TSAL step on 2 logical CPUs equals one step on 1 device."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tsal_tf.data import pipelines, sources
from tsal_tf.model.config import NetworkConfig
from tsal_tf.objective import ObjectiveConfig
from tsal_tf.teacher_student import TeacherStudent

CONFIG = NetworkConfig(input_size=32, widths=(8, 16), head_width=8, flow_widths=(8, 16), flow_scales=2)


def _one_step(devices, initial, source, partial_labels, guide_flip_test):
  strategy = tf.distribute.MirroredStrategy(devices)
  with strategy.scope():
    model = TeacherStudent(CONFIG, ObjectiveConfig(), steps_per_epoch=1, omega_epochs=(0.5, 1.0, 2.0),
                           partial_labels=partial_labels, guide_flip_test=guide_flip_test)
    for variable, value in zip(model.student.weights + model.teacher.weights, initial):
      variable.assign(value)
    # Adam's epsilon is raised from 1e-7: its first step lr * g / (|g| + eps) turns float-rounding differences
    # of near-zero gradients (summation order across replicas) into 1e-5 weight differences. Eagerly: the
    # strategy runs each replica in a thread of its own with the same cross-replica reductions (synchronized
    # BatchNorm included) as a traced step, without a trace per model (test_train's MirroredStrategy smoke run
    # traces train.py's step).
    model.compile(keras.optimizers.Adam(1e-2, epsilon=1e-3), run_eagerly=True)
  dataset = pipelines.make_dataset(source, batch_size=4, shuffle=False)
  model.fit(dataset.take(1), epochs=1, steps_per_epoch=1, verbose=0, shuffle=False)
  return [w.numpy() for w in model.student.weights + model.teacher.weights]


# Fully labeled (no label weights), and labeled unevenly across the replicas' halves of the batch (2 + 1
# labeled clips): then l_M and l_C must stay the mean over the labeled clips of the whole batch, and the
# unlabeled clip tracks from the teacher's flip-test detection (the plain detection's guide adds no collective).
@pytest.mark.parametrize("labeled,guide_flip_test", [(None, False), ([True, True, True, False], True)])
def test_two_replicas_give_the_same_weights_as_one(labeled, guide_flip_test):
  source = sources.SyntheticClipSource(4, 32, 3)
  if labeled is not None:
    source = sources.PartiallyLabeledSource(source, labeled)
  keras.utils.set_random_seed(0)
  reference = TeacherStudent(CONFIG, ObjectiveConfig(), steps_per_epoch=1)
  initial = [w.numpy() for w in reference.student.weights + reference.teacher.weights]
  cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
  assert len(cpus) >= 2, "conftest splits the CPU into 2 logical devices"
  one = _one_step(cpus[:1], initial, source, labeled is not None, guide_flip_test)
  two = _one_step(cpus[:2], initial, source, labeled is not None, guide_flip_test)
  changed = max(float(np.max(np.abs(a - b))) for a, b in zip(one, initial))
  assert changed > 1e-3  # the step really moved the weights
  worst = max(float(np.max(np.abs(a - b))) for a, b in zip(one, two))
  assert worst < 1e-5, worst
