"""Eq. 8: teacher <- lambda * teacher + (1 - lambda) * Avg(T), T = queue of the last v student weights.

The queue lives on device as Keras variables: for each weight w, `slots` [v, *w.shape] holds the last v
snapshots and `sums` their running sum, so one update costs O(|w|) instead of re-averaging v copies:
    sums <- (sums - slots[pos]) + w_student;  slots[pos] <- w_student;  pos <- (pos + 1) mod v;
    count <- min(count + 1, v);  mean = sums / count.
With v = 1 the mean is exactly the student's weights and the update is the mean-teacher EMA (Tarvainen &
Valpola 2017), teacher <- lambda teacher + (1 - lambda) student: that case keeps no snapshots (its arithmetic is
bit for bit the queue's, where sums - slots[pos] is exactly 0, at a quarter of the memory traffic).

An untrained teacher (--average_student: the teacher is nothing but this average) starts as a copy of the
student's initial weights, which lambda = 0.999 would keep at 0.999^t of the teacher after t steps (a fifth of
it after 1,600 steps). Its lambda therefore warms up as in TensorFlow's ExponentialMovingAverage(num_updates=t):
    lambda_t = min(lambda, (1 + t) / (10 + t)),   1 - lambda_t = max(1 - lambda, 9 / (10 + t)),
which gives the student of step s of a t-step run a weight of about (9 / t) (s / t)^8: an average centred
near step 0.9 t, over roughly the run's last fifth, until lambda takes over (from
t = (10 lambda - 1) / (1 - lambda): 8,990 steps for 0.999). A run resumed from a checkpoint of code older than
the warm-up continues under it.

Stochastic weight averaging (`swa_start`, Izmailov et al. 2018): after the first swa_start of T steps, the
lambda of step t (1-based) grows with n = t - swa_start, the steps in the tail so far, once 1/n < 1 - lambda_t:
    teacher <- keep teacher + take Avg(T),  (keep, take) = ((n - 1)/n, 1/n)        if n (1 - lambda_t) > 1
                                                          else (lambda_t, 1 - lambda_t),
so the teacher's window widens from the last 1/(1 - lambda_t) steps to the whole tail: from the first such n on,
it is the running uniform mean of the later students and of the moving average at that step, counted as n - 1
samples. A trained teacher (asynchronous learning) takes its own gradient step delta_s before each update, so
n T_n = (n - 1) (T_{n-1} + delta_n) + Avg(T)_n, and the teacher of the tail's n-th step is
    T_n = (1/n) sum_{s<=n} (Avg(T)_s + (s - 1) delta_s)
(the moving average at the tail's start counted as above): the uniform mean of the students plus its own steps,
each at the weight (s - 1)/n, the recent ones almost whole and the early ones faded.
With `average_tail` the tail drops those steps: each tail update starts from the teacher of the previous
update (`previous`, a copy kept for it) instead of the teacher after its own step (BatchNorm statistics of its
forward pass included), so the tail's teacher is the uniform mean of the students, as an untrained teacher's:
    T_n = keep T_{n-1} + take Avg(T)_n,   T_n = (1/n) sum_{s<=n} Avg(T)_s   (the uniform part of the tail).
Before the tail the trained teacher keeps its steps.
"""

import keras
from keras import ops


def _write_slot(slot, position, value):
  """slot[position] <- value, as a functional slice_update of the whole slot: the one form that works in every
  context (JAX, TensorFlow eagerly, and inside a tf.distribute step's cross-replica merge_call)."""
  start = [position] + [0] * len(value.shape)
  slot.assign(ops.slice_update(slot.value, start, ops.expand_dims(value, 0)))


def swa_start_step(fraction, total_steps):
  """The swa_start of a run: the steps before its averaging tail (`fraction` of `total_steps`); None for 1."""
  return int(fraction * total_steps) if fraction < 1.0 else None


def blend_weights(ema_lambda, swa_start=None, step=None, warmup=False):
  """(keep, take) of eq. 8 at `step` (the steps taken, this one included): (lambda, 1 - lambda), or with `warmup`
  and / or `swa_start` the warmed-up lambda_t and the stochastic-weight-averaging tail of the module docstring
  (scalar tensors then)."""
  if swa_start is None and not warmup:
    return ema_lambda, 1.0 - ema_lambda
  if step is None:
    raise ValueError("eq. 8 with swa_start or a warm-up needs the step count")
  t = ops.cast(step, "float32")
  take = ops.maximum(1.0 - ema_lambda, 9.0 / (t + 10.0)) if warmup else ops.convert_to_tensor(1.0 - ema_lambda)
  if swa_start is not None:
    n = t - float(swa_start)
    take = ops.where(n * take > 1.0, 1.0 / ops.maximum(n, 1.0), take)
  return 1.0 - take, take


def _queue_step(total, old, new, teacher, count, keep, take):
  """One weight's eq. 8 arithmetic: (sums - oldest + newest, keep * teacher + take * sums / count)."""
  total = (total - old) + new
  return total, keep * teacher + take * total / ops.cast(count, total.dtype)


def _mean_teacher_step(teacher, student, keep, take):
  """Eq. 8 with v = 1: keep * teacher + take * student (the queue's arithmetic with count 1)."""
  return keep * teacher + take * student


class StudentWeightQueue:
  """Holds the queue for a (student, teacher) pair of identically structured networks."""

  def __init__(self, student, teacher, length, ema_lambda, swa_start=None, warmup=False, average_tail=False):
    if length < 1:
      raise ValueError(f"queue length must be >= 1, got {length}")
    if average_tail and swa_start is None:
      raise ValueError("average_tail needs swa_start: without an averaging tail there is nothing to drop from")
    self.student_weights = student.weights
    self.teacher_weights = teacher.weights
    if [w.shape for w in self.student_weights] != [w.shape for w in self.teacher_weights]:
      raise ValueError("teacher and student must have the same structure")
    self.length, self.ema_lambda, self.swa_start, self.warmup = length, ema_lambda, swa_start, warmup
    kept = self.student_weights if length > 1 else []  # v = 1 keeps no snapshots (the mean is the student)
    self.slots = [keras.Variable(ops.zeros((length,) + tuple(w.shape)), trainable=False, name=f"queue_{i}")
                  for i, w in enumerate(kept)]
    self.sums = [keras.Variable(ops.zeros(w.shape), trainable=False, name=f"queue_sum_{i}")
                 for i, w in enumerate(kept)]
    # The teacher of the last update, the start of each tail update with average_tail.
    self.previous = [keras.Variable(ops.zeros(w.shape), trainable=False, name=f"queue_previous_{i}")
                     for i, w in enumerate(self.teacher_weights if average_tail else [])]
    self.position = keras.Variable(0, dtype="int32", trainable=False, name="queue_position")
    self.count = keras.Variable(0, dtype="int32", trainable=False, name="queue_count")

  @property
  def variables(self):
    return self.slots + self.sums + self.previous + [self.position, self.count]

  def first_dropping_step(self):
    """The first step (counted as the steps taken before it) whose update drops a trained teacher's own step:
    with an average tail, every step t + 1 > swa_start once the queue holds an update (`_update_starts`), so
    from max(swa_start, 1) on in a run whose queue started empty at step 0. None without an average tail."""
    return max(self.swa_start, 1) if self.previous else None

  def update(self, step=None):
    """Push the student's current weights and apply eq. 8 to the teacher (`step`: the steps taken, this one
    included; needed with swa_start or warmup)."""
    keep, take = blend_weights(self.ema_lambda, self.swa_start, step, self.warmup)
    position = self.position.value
    count = ops.minimum(self.count.value + 1, self.length)
    starts = _update_starts([t.value for t in self.teacher_weights], [p.value for p in self.previous],
                            self.swa_start, step, self.count.value)
    new_teachers = []
    if self.length == 1:
      new_teachers = [_mean_teacher_step(start, student.value, keep, take)
                      for student, start in zip(self.student_weights, starts)]
    for slot, total, student, start in zip(self.slots, self.sums, self.student_weights, starts):
      new = ops.convert_to_tensor(student.value)
      new_total, new_teacher = _queue_step(total.value, ops.take(slot.value, position, axis=0), new, start,
                                           count, keep, take)
      total.assign(new_total)
      _write_slot(slot, position, new)
      new_teachers.append(new_teacher)
    for teacher, new_teacher in zip(self.teacher_weights, new_teachers):
      teacher.assign(new_teacher)
    for previous, new_teacher in zip(self.previous, new_teachers):
      previous.assign(new_teacher)
    self.position.assign((position + 1) % self.length)
    self.count.assign(count)


def _update_starts(teacher, previous, swa_start, step, count):
  """The teacher weights an update starts from: the teacher after its own step, or inside the tail of an
  average_tail queue (`previous` not empty) the teacher of the last update, once there was one (`count`, the
  queue's count before this update, is positive: a teacher loaded after the queue was built is not lost)."""
  if not previous:
    return teacher
  from_previous = ops.logical_and(ops.cast(step, "float32") > float(swa_start), count > 0)
  return [ops.where(from_previous, p, t) for t, p in zip(teacher, previous)]


def functional_update(slots, sums, position, count, student, teacher, length, ema_lambda, swa_start=None,
                      step=None, warmup=False, previous=()):
  """Eq. 8 on plain arrays (for jitted JAX steps): StudentWeightQueue.update without variables.

  Args are lists of arrays (slots [v, *w.shape], sums, student and teacher weights, and an average_tail
  queue's `previous`) and scalar position/count/step; returns (slots, sums, position, count, teacher) updated
  (the new `previous` is the new teacher).
  """
  keep, take = blend_weights(ema_lambda, swa_start, step, warmup)
  teacher = _update_starts(teacher, list(previous), swa_start, step, count)
  count = ops.minimum(count + 1, length)
  if length == 1:  # no snapshots (see StudentWeightQueue)
    return slots, sums, position, count, [_mean_teacher_step(t, s, keep, take) for s, t in zip(student, teacher)]
  new_slots, new_sums, new_teacher = [], [], []
  for slot, total, s, t in zip(slots, sums, student, teacher):
    total, t = _queue_step(total, ops.take(slot, position, axis=0), s, t, count, keep, take)
    new_slots.append(ops.slice_update(slot, [position] + [0] * len(s.shape), ops.expand_dims(s, 0)))
    new_sums.append(total)
    new_teacher.append(t)
  return new_slots, new_sums, (position + 1) % length, count, new_teacher
