"""Eq. 8: teacher <- lambda * teacher + (1 - lambda) * Avg(T), T = queue of the last v student weights.

The queue lives on device as Keras variables: for each weight w, `slots` [v, *w.shape] holds the last v
snapshots and `sums` their running sum, so one update costs O(|w|) instead of re-averaging v copies:
    sums <- (sums - slots[pos]) + w_student;  slots[pos] <- w_student;  pos <- (pos + 1) mod v;
    count <- min(count + 1, v);  mean = sums / count.
With v = 1 the mean is exactly the student's weights and the update is the mean-teacher EMA (Tarvainen &
Valpola 2017), teacher <- lambda teacher + (1 - lambda) student: that case keeps no snapshots (its arithmetic is
bit for bit the queue's, where sums - slots[pos] is exactly 0, at a quarter of the memory traffic).
"""

import keras
from keras import ops


def _write_slot(slot, position, value):
  """slot[position] <- value, as a functional slice_update of the whole slot: the one form that works in every
  context (JAX, TensorFlow eagerly, and inside a tf.distribute step's cross-replica merge_call)."""
  start = [position] + [0] * len(value.shape)
  slot.assign(ops.slice_update(slot.value, start, ops.expand_dims(value, 0)))


def _queue_step(total, old, new, teacher, count, ema_lambda):
  """One weight's eq. 8 arithmetic: (sums - oldest + newest, lambda * teacher + (1 - lambda) * sums / count)."""
  total = (total - old) + new
  return total, ema_lambda * teacher + (1.0 - ema_lambda) * total / ops.cast(count, total.dtype)


def _mean_teacher_step(teacher, student, ema_lambda):
  """Eq. 8 with v = 1: lambda * teacher + (1 - lambda) * student (the queue's arithmetic with count 1)."""
  return ema_lambda * teacher + (1.0 - ema_lambda) * student


class StudentWeightQueue:
  """Holds the queue for a (student, teacher) pair of identically structured networks."""

  def __init__(self, student, teacher, length, ema_lambda):
    if length < 1:
      raise ValueError(f"queue length must be >= 1, got {length}")
    self.student_weights = student.weights
    self.teacher_weights = teacher.weights
    if [w.shape for w in self.student_weights] != [w.shape for w in self.teacher_weights]:
      raise ValueError("teacher and student must have the same structure")
    self.length, self.ema_lambda = length, ema_lambda
    kept = self.student_weights if length > 1 else []  # v = 1 keeps no snapshots (the mean is the student)
    self.slots = [keras.Variable(ops.zeros((length,) + tuple(w.shape)), trainable=False, name=f"queue_{i}")
                  for i, w in enumerate(kept)]
    self.sums = [keras.Variable(ops.zeros(w.shape), trainable=False, name=f"queue_sum_{i}")
                 for i, w in enumerate(kept)]
    self.position = keras.Variable(0, dtype="int32", trainable=False, name="queue_position")
    self.count = keras.Variable(0, dtype="int32", trainable=False, name="queue_count")

  @property
  def variables(self):
    return self.slots + self.sums + [self.position, self.count]

  def update(self):
    """Push the student's current weights and apply eq. 8 to the teacher."""
    position = self.position.value
    count = ops.minimum(self.count.value + 1, self.length)
    if self.length == 1:
      for student, teacher in zip(self.student_weights, self.teacher_weights):
        teacher.assign(_mean_teacher_step(teacher.value, student.value, self.ema_lambda))
    for slot, total, student, teacher in zip(self.slots, self.sums, self.student_weights, self.teacher_weights):
      new = ops.convert_to_tensor(student.value)
      new_total, new_teacher = _queue_step(total.value, ops.take(slot.value, position, axis=0), new,
                                           teacher.value, count, self.ema_lambda)
      total.assign(new_total)
      _write_slot(slot, position, new)
      teacher.assign(new_teacher)
    self.position.assign((position + 1) % self.length)
    self.count.assign(count)


def functional_update(slots, sums, position, count, student, teacher, length, ema_lambda):
  """Eq. 8 on plain arrays (for jitted JAX steps): StudentWeightQueue.update without variables.

  Args are lists of arrays (slots [v, *w.shape], sums, student and teacher weights) and scalar
  position/count; returns (slots, sums, position, count, teacher) updated.
  """
  count = ops.minimum(count + 1, length)
  if length == 1:  # no snapshots (see StudentWeightQueue)
    return slots, sums, position, count, [_mean_teacher_step(t, s, ema_lambda) for s, t in zip(student, teacher)]
  new_slots, new_sums, new_teacher = [], [], []
  for slot, total, s, t in zip(slots, sums, student, teacher):
    total, t = _queue_step(total, ops.take(slot, position, axis=0), s, t, count, ema_lambda)
    new_slots.append(ops.slice_update(slot, [position] + [0] * len(s.shape), ops.expand_dims(s, 0)))
    new_sums.append(total)
    new_teacher.append(t)
  return new_slots, new_sums, (position + 1) % length, count, new_teacher
