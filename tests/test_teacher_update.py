"""Eq. 8 queue: v = 1 is exactly the mean teacher; v > 1 averages the last v student snapshots."""

import keras
import numpy as np
import tensorflow as tf

from tsal_tf.teacher_update import StudentWeightQueue


def _pair(value_student, value_teacher):
  student = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
  teacher = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
  for s, t in zip(student.weights, teacher.weights):
    s.assign(np.full(s.shape, value_student, np.float32))
    t.assign(np.full(t.shape, value_teacher, np.float32))
  return student, teacher


def test_queue_of_one_is_exactly_the_mean_teacher():
  student, teacher = _pair(0.0, 1.0)
  queue = StudentWeightQueue(student, teacher, length=1, ema_lambda=0.9)
  ema = np.float32(1.0)
  for step in range(5):
    for s in student.weights:
      s.assign(np.full(s.shape, 0.3 * step + 0.1, np.float32))
    queue.update()
    ema = np.float32(0.9) * ema + np.float32(1 - 0.9) * np.float32(0.3 * step + 0.1)
    for t in teacher.weights:
      np.testing.assert_array_equal(t.numpy(), np.full(t.shape, ema, np.float32))


def test_queue_averages_the_last_v_snapshots():
  student, teacher = _pair(0.0, 0.0)
  queue = StudentWeightQueue(student, teacher, length=3, ema_lambda=0.5)
  values = [1.0, 2.0, 4.0, 8.0]
  teacher_value = 0.0
  for i, v in enumerate(values):
    for s in student.weights:
      s.assign(np.full(s.shape, v, np.float32))
    queue.update()
    window = values[max(0, i - 2):i + 1]
    teacher_value = 0.5 * teacher_value + 0.5 * np.mean(window)
    np.testing.assert_allclose(teacher.weights[0].numpy(), teacher_value, rtol=1e-6)


def test_queue_update_under_mirrored_strategy():
  cpu = tf.config.list_logical_devices("CPU")
  strategy = tf.distribute.MirroredStrategy([d.name for d in cpu[:2]])
  with strategy.scope():
    student, teacher = _pair(2.0, 0.0)
    queue = StudentWeightQueue(student, teacher, length=2, ema_lambda=0.75)
  tf.function(queue.update)()
  tf.function(queue.update)()
  # mean of the queue is 2 both times: teacher = 0.75 * (0.75 * 0 + 0.25 * 2) + 0.25 * 2 = 0.875
  for t in teacher.weights:
    for replica_value in strategy.experimental_local_results(t.value if hasattr(t, "value") else t):
      np.testing.assert_allclose(np.asarray(replica_value), 0.875, rtol=1e-6)
