"""Eq. 8 queue: v = 1 is exactly the mean teacher; v > 1 averages the last v student snapshots."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tsal_tf import teacher_update
from tsal_tf.teacher_update import StudentWeightQueue, functional_update

import runners
from runners import ROOT


def _pair(value_student, value_teacher):
  student = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
  teacher = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
  for s, t in zip(student.weights, teacher.weights):
    s.assign(np.full(s.shape, value_student, np.float32))
    t.assign(np.full(t.shape, value_teacher, np.float32))
  return student, teacher


def test_queue_of_one_is_exactly_the_mean_teacher():
  """v = 1 keeps no snapshots; the variables' update and the functional one (JAX steps) are the EMA."""
  student, teacher = _pair(0.0, 1.0)
  queue = StudentWeightQueue(student, teacher, length=1, ema_lambda=0.9)
  assert queue.slots == [] and queue.sums == []
  ema, functional = np.float32(1.0), [np.ones(t.shape, np.float32) for t in teacher.weights]
  for step in range(5):
    for s in student.weights:
      s.assign(np.full(s.shape, 0.3 * step + 0.1, np.float32))
    queue.update()
    *_, functional = functional_update([], [], 0, step, [s.numpy() for s in student.weights], functional, 1, 0.9)
    ema = np.float32(0.9) * ema + np.float32(1 - 0.9) * np.float32(0.3 * step + 0.1)
    for t, f in zip(teacher.weights, functional):
      np.testing.assert_array_equal(t.numpy(), np.full(t.shape, ema, np.float32))
      np.testing.assert_array_equal(np.asarray(f), np.full(t.shape, ema, np.float32))


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


@pytest.mark.parametrize("length", [1, 2])
def test_swa_tail_grows_the_window_to_a_uniform_mean(length):
  """With swa_start, lambda stays 0.75 (a 4-step window) until the tail's n-th step has 1/n < 0.25, then each
  update is the running uniform mean: the oracle is the EMA up to the tail's step 4 and, from step 5 of the
  tail on, that EMA counted as 4 samples plus every later queue mean counted once."""
  student, teacher = _pair(0.0, 0.0)
  swa_start, ema_lambda = 3, 0.75
  queue = StudentWeightQueue(student, teacher, length=length, ema_lambda=ema_lambda, swa_start=swa_start)
  functional = [np.zeros(t.shape, np.float32) for t in teacher.weights]
  kept = student.weights if length > 1 else []  # v = 1 keeps no snapshots
  slots = [np.zeros((length,) + tuple(s.shape), np.float32) for s in kept]
  sums, position, count = [np.zeros(s.shape, np.float32) for s in kept], 0, 0
  values = [2.0 ** (i % 5) - i for i in range(12)]
  oracle, tail = 0.0, []
  for step, value in enumerate(values, 1):
    for s in student.weights:
      s.assign(np.full(s.shape, value, np.float32))
    queue.update(step)
    slots, sums, position, count, functional = functional_update(
        slots, sums, position, count, [s.numpy() for s in student.weights], functional, length, ema_lambda,
        swa_start, step)
    mean = np.mean(values[max(0, step - length):step])
    if step - swa_start <= 4:  # EMA
      oracle = ema_lambda * oracle + (1 - ema_lambda) * mean
      ema_at_four = oracle
    else:
      tail.append(mean)
      oracle = (4 * ema_at_four + sum(tail)) / (4 + len(tail))
    for t, f in zip(teacher.weights, functional):
      np.testing.assert_allclose(t.numpy(), oracle, rtol=1e-5, err_msg=f"step {step}")
      np.testing.assert_allclose(np.asarray(f), oracle, rtol=1e-5, err_msg=f"functional, step {step}")
  assert len(tail) == len(values) - swa_start - 4


def test_swa_tail_of_a_trained_teacher_keeps_its_own_steps_at_weight_s_minus_1_over_n():
  """A trained teacher steps by delta_s before each update; with the tail from step 0 (lambda 0: the first
  update copies the student) the teacher of step n is (1/n) sum_s (student_s + (s - 1) delta_s)
  (teacher_update's docstring): the closed form is the oracle of the recursion."""
  student, teacher = _pair(0.0, 0.0)
  queue = StudentWeightQueue(student, teacher, length=1, ema_lambda=0.0, swa_start=0)
  rng = np.random.default_rng(0)
  students, deltas = rng.normal(size=9).astype(np.float32), rng.normal(size=9).astype(np.float32)
  for n in range(1, len(students) + 1):
    for s, t in zip(student.weights, teacher.weights):
      s.assign(np.full(s.shape, students[n - 1], np.float32))
      t.assign(t.numpy() + deltas[n - 1])  # the teacher's own gradient step
    queue.update(n)
    oracle = np.mean(students[:n] + np.arange(n) * deltas[:n])
    np.testing.assert_allclose(teacher.weights[0].numpy(), oracle, rtol=1e-5, atol=1e-6, err_msg=f"step {n}")


@pytest.mark.parametrize("length", [1, 3])
def test_average_tail_drops_the_trained_teachers_own_steps_in_the_tail(length):
  """average_tail: before the tail (steps <= swa_start) the update starts from the teacher after its own step
  delta_t, in the tail from the teacher of the last update, so that the tail's teacher is the students' running
  mean; the queue and functional_update agree with the recursion."""
  student, teacher = _pair(0.0, 0.0)
  swa_start, ema_lambda = 3, 0.5
  queue = StudentWeightQueue(student, teacher, length=length, ema_lambda=ema_lambda, swa_start=swa_start,
                             average_tail=True)
  kept = student.weights if length > 1 else []
  slots = [np.zeros((length,) + tuple(w.shape), np.float32) for w in kept]
  sums, position, count = [np.zeros(w.shape, np.float32) for w in kept], 0, 0
  functional = [np.zeros(t.shape, np.float32) for t in teacher.weights]
  rng = np.random.default_rng(1)
  students, deltas = rng.normal(size=10).astype(np.float32), rng.normal(size=10).astype(np.float32)
  oracle = 0.0
  for step in range(1, len(students) + 1):
    for s, t in zip(student.weights, teacher.weights):
      s.assign(np.full(s.shape, students[step - 1], np.float32))
      t.assign(t.numpy() + deltas[step - 1])  # the teacher's own gradient step
    previous = list(functional)
    functional = [f + deltas[step - 1] for f in functional]
    queue.update(step)
    slots, sums, position, count, functional = functional_update(
        slots, sums, position, count, [s.numpy() for s in student.weights], functional, length, ema_lambda,
        swa_start, step, previous=previous)
    keep, take = (float(x) for x in teacher_update.blend_weights(ema_lambda, swa_start, step))
    start = oracle if step > swa_start else oracle + deltas[step - 1]
    oracle = keep * start + take * np.mean(students[max(0, step - length):step])
    for t, f in zip(teacher.weights, functional):
      np.testing.assert_allclose(t.numpy(), oracle, rtol=1e-5, atol=1e-6, err_msg=f"step {step}")
      np.testing.assert_allclose(np.asarray(f), oracle, rtol=1e-5, atol=1e-6, err_msg=f"functional, step {step}")
  with pytest.raises(ValueError, match="average_tail needs swa_start"):
    StudentWeightQueue(student, teacher, length=1, ema_lambda=0.5, average_tail=True)


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


def compile_for_a_few_steps(model, graph=False):
  """Adam(1e-2) on `model` for fits of a few steps. Under JAX jitted, as train.py compiles it (with a constant
  learning rate, which the JAX step logs from a variable). Under TensorFlow eager unless `graph`: the same
  train step's ops without the ~20-second trace of each new model (train.py's graph, TeacherSteps' rebuild
  included, runs in test_train's smoke runs and in the eq. 8 test)."""
  jax = keras.backend.backend() == "jax"
  model.compile(keras.optimizers.Adam(1e-2), jit_compile=jax, run_eagerly=not (jax or graph))


def check_eq8_in_one_fit_step(average_student=False, graph=False):
  """One fit step with lambda = 1 (eq. 8 leaves the teacher as its own step made it) and with lambda = 0.9,
  from the same start on the same batch: teacher_0.9 = 0.9 * teacher_1 + 0.1 * student (the queue holds one
  snapshot after one step), for every teacher weight, BatchNorm statistics included. Fails if eq. 8 were
  skipped, or applied to the trainable weights only. With `average_student` the single model trains alone and
  the teacher does not train: after one fit step with lambda = 0.9 it is the warmed-up average of its start and
  the student. Runs under the active Keras backend; `graph`: TensorFlow's step traced as train.py traces it."""
  from keras import ops
  from tsal_tf.data import pydataset, sources
  from tsal_tf.model.config import NetworkConfig
  from tsal_tf.objective import ObjectiveConfig
  from tsal_tf.teacher_student import TeacherStudent
  config = NetworkConfig(input_size=32, widths=(8, 16), head_width=8, flow_widths=(8, 16), flow_scales=2)
  keras.utils.set_random_seed(0)
  initial, results = None, {}
  for ema_lambda in (0.9,) if average_student else (1.0, 0.9):
    # Every synthetic clip is labeled: partial_labels=False, as train.py passes for such data.
    model = TeacherStudent(config, ObjectiveConfig(), steps_per_epoch=1, async_learning=not average_student,
                           average_student=average_student, queue_length=4, ema_lambda=ema_lambda,
                           partial_labels=False)
    if initial is None:  # a teacher unlike the student (x 1.5), so that eq. 8 visibly moves it
      initial = ([ops.convert_to_numpy(w.value) for w in model.student.weights]
                 + [1.5 * ops.convert_to_numpy(w.value) for w in model.teacher.weights])
    for variable, value in zip(model.student.weights + model.teacher.weights, initial):
      variable.assign(value)
    compile_for_a_few_steps(model, graph)
    batches = pydataset.SourceBatches(sources.SyntheticClipSource(4, 32, 3), 4, 1, workers=1)
    model.fit(batches, epochs=1, verbose=0, shuffle=False)
    results[ema_lambda] = [[ops.convert_to_numpy(w.value) for w in net.weights] for net in (model.student, model.teacher)]
  names = [w.path for w in model.teacher.weights]
  assert any("moving_mean" in n for n in names)
  if average_student:
    # The untrained teacher's lambda warms up: step 1 blends with lambda_1 = min(0.9, 2 / 11) = 2 / 11, so the
    # teacher is 2/11 of its start and 9/11 of the student.
    student, teacher = results[0.9]
    for name, s, got, start in zip(names, student, teacher, initial[len(student):]):
      np.testing.assert_allclose(got, 2 / 11 * start + 9 / 11 * s, atol=1e-5, err_msg=name)
    assert max(float(np.max(np.abs(a - b))) for a, b in zip(teacher, initial[len(student):])) > 1e-2
    return
  (student_alone, teacher_alone), (student, teacher) = results[1.0], results[0.9]
  for name, s, s2 in zip(names, student_alone, student):
    np.testing.assert_allclose(s2, s, atol=1e-6, err_msg=name)  # eq. 8 never touches the student
  for name, s, alone, got in zip(names, student, teacher_alone, teacher):
    np.testing.assert_allclose(got, 0.9 * alone + 0.1 * s, atol=1e-5, err_msg=name)
  assert max(float(np.max(np.abs(a - b))) for a, b in zip(teacher_alone, teacher)) > 1e-2


@pytest.mark.parametrize("average_student", [False, True], ids=["async_learning", "average_student"])
def test_training_applies_eq8_to_every_teacher_weight_batchnorm_statistics_included(average_student):
  check_eq8_in_one_fit_step(average_student, graph=not average_student)  # TSAL's step as train.py traces it


def test_training_applies_eq8_under_jax():
  """The same check in the JAX train step (a subprocess under KERAS_BACKEND=jax)."""
  pytest.importorskip("jax", reason="JAX is installed by the test extra (bash tools/setup.sh --test)")
  # Both cases: TSAL's trained teacher, and the averaged single model (eq. 8 with asynchronous learning off).
  code = ("import test_teacher_update as t; t.check_eq8_in_one_fit_step(); "
          "t.check_eq8_in_one_fit_step(average_student=True); print('eq8 ok')")
  result = runners.run_jax_snippet(code, cwd=os.path.dirname(os.path.abspath(__file__)))
  assert result.returncode == 0 and "eq8 ok" in result.stdout, result.stdout[-2000:] + result.stderr[-3000:]


def check_average_tail_in_two_fit_steps(tail_teacher="average"):
  """--tail_teacher=average in training: with the tail from step 1, step 2's teacher is eq. 8 on step 1's
  teacher, not on the teacher after its own step 2 (every weight, BatchNorm statistics included): lambda 0.5,
  v = 2, T_2 = 0.5 T_1 + 0.5 (S_1 + S_2) / 2. Runs under the active Keras backend."""
  from keras import ops
  from tsal_tf.data import pydataset, sources
  from tsal_tf.model.config import NetworkConfig
  from tsal_tf.objective import ObjectiveConfig
  from tsal_tf.teacher_student import TeacherStudent
  config = NetworkConfig(input_size=32, widths=(8, 16), head_width=8, flow_widths=(8, 16), flow_scales=2)
  keras.utils.set_random_seed(0)
  model = TeacherStudent(config, ObjectiveConfig(), steps_per_epoch=1, queue_length=2, ema_lambda=0.5, swa_start=1,
                         tail_teacher=tail_teacher, partial_labels=False)
  compile_for_a_few_steps(model)
  batches = pydataset.SourceBatches(sources.SyntheticClipSource(4, 32, 3), 4, 1, workers=1)
  snapshots = []
  for _ in range(2):
    model.fit(batches, epochs=1, verbose=0, shuffle=False)
    snapshots.append([[ops.convert_to_numpy(w.value) for w in net.weights] for net in (model.student, model.teacher)])
  (students_1, teachers_1), (students_2, teachers_2) = snapshots
  for w, s1, t1, s2, t2 in zip(model.teacher.weights, students_1, teachers_1, students_2, teachers_2):
    np.testing.assert_allclose(t2, 0.5 * t1 + 0.25 * (s1 + s2), atol=1e-5, err_msg=w.path)


def test_average_tail_in_training():
  check_average_tail_in_two_fit_steps()
  with pytest.raises(AssertionError):  # the trained teacher's own step 2 moves it off that mean
    check_average_tail_in_two_fit_steps("trained")


def test_the_average_tail_keeps_copies_only_for_a_trained_teacher_with_a_tail():
  """--tail_teacher=average (configs/300w_cpu.flags) acts on a trained teacher with a tail; a single model's
  teacher takes no steps of its own, and without a tail there is nothing to drop: there it adds no `previous`
  copies, so such runs (the benchmark's single model, --swa_start=1) train, and checkpoint, as with the default."""
  from tsal_tf.model.config import NetworkConfig
  from tsal_tf.objective import ObjectiveConfig
  from tsal_tf.teacher_student import TeacherStudent
  config = NetworkConfig(input_size=32, widths=(8, 16), head_width=8, flow_widths=(8, 16), flow_scales=2)
  def queue_size(swa_start=1, **flags):
    return len(TeacherStudent(config, ObjectiveConfig(), steps_per_epoch=1, swa_start=swa_start, **flags)
               .queue.variables)
  default = queue_size()
  assert queue_size(tail_teacher="average") > default
  assert queue_size(tail_teacher="average", async_learning=False, average_student=True) == default
  assert queue_size(None, tail_teacher="average") == queue_size(None)


def test_average_tail_in_training_under_jax():
  pytest.importorskip("jax", reason="JAX is installed by the test extra (bash tools/setup.sh --test)")
  code = "import test_teacher_update as t; t.check_average_tail_in_two_fit_steps(); print('tail ok')"
  result = runners.run_jax_snippet(code, cwd=os.path.dirname(os.path.abspath(__file__)))
  assert result.returncode == 0 and "tail ok" in result.stdout, result.stdout[-2000:] + result.stderr[-3000:]


def check_teacher_steps_left_out_in_the_tail(partially_labeled=False, check_an_early_switch=False):
  """--tail_teacher=average drops the teacher's own steps in the tail (above), so the train step leaves them
  out from TeacherStudent.first_untrained_teacher_step on (callbacks.TeacherSteps). Four steps with the tail
  from step 2, in one fit with the callback and in one without: every weight of both networks, BatchNorm
  statistics included, is the same, and the callback did switch (the teacher's last losses are not logged).
  With `partially_labeled` half the clips are unlabeled and the teacher's detection still guides their
  tracking in the tail. `check_an_early_switch`: a third fit switches one step early, losing step 1's teacher
  step, which eq. 8 keeps, and must end elsewhere. Runs under the active Keras backend (eager under TensorFlow,
  where the step reads `teacher_trains` on every call: the rebuild of a traced step is test_train's
  MirroredStrategy smoke run and the jitted JAX case)."""
  from keras import ops
  from tsal_tf import callbacks
  from tsal_tf.data import pydataset, sources
  from tsal_tf.model.config import NetworkConfig
  from tsal_tf.objective import ObjectiveConfig
  from tsal_tf.teacher_student import TeacherStudent
  config = NetworkConfig(input_size=32, widths=(8, 16), head_width=8, flow_widths=(8, 16), flow_scales=2)
  source = sources.SyntheticClipSource(8, 32, 2)
  if partially_labeled:
    source = sources.PartiallyLabeledSource(source, np.arange(8) % 2 == 0)
  results, last_logs = [], []
  for first_left_out in ("never", "tail", 1)[:3 if check_an_early_switch else 2]:
    keras.utils.set_random_seed(0)
    model = TeacherStudent(config, ObjectiveConfig(), steps_per_epoch=4, queue_length=2, ema_lambda=0.5,
                           swa_start=2, tail_teacher="average", partial_labels=partially_labeled)
    if first_left_out == 1:
      model.first_untrained_teacher_step = lambda: 1
    compile_for_a_few_steps(model)
    logged = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: last_logs.append(set(logs)))
    model.fit(pydataset.SourceBatches(source, 4, 4, workers=1), epochs=1, verbose=0, shuffle=False,
              callbacks=[logged] if first_left_out == "never" else [callbacks.TeacherSteps(), logged])
    results.append([ops.convert_to_numpy(w.value) for w in model.student.weights + model.teacher.weights])
  assert "teacher/total" in last_logs[3] and "teacher/total" not in last_logs[7]
  # The heatmap biases shift whole maps, which the spatial softmax and the soft-argmax ignore: their gradient is
  # zero up to rounding, which Adam scales to steps of 1e-5 that differ between the two compiled steps (JAX).
  names = [w.path for w in model.student.weights + model.teacher.weights]
  learnt = [name != "heatmaps/bias" for name in names]
  for name, every_step, left_out in zip(names, results[0], results[1]):
    np.testing.assert_allclose(left_out, every_step, rtol=1e-6, atol=1e-7 if name != "heatmaps/bias" else 1e-3,
                               err_msg=name)
  if check_an_early_switch:
    assert max(float(np.max(np.abs(a - b))) for a, b, keep in zip(results[0], results[2], learnt) if keep) > 1e-4


@pytest.mark.parametrize("partially_labeled", [False, True], ids=["labeled", "partially_labeled"])
def test_the_tail_leaves_out_the_teachers_steps_and_keeps_its_weights(partially_labeled):
  check_teacher_steps_left_out_in_the_tail(partially_labeled, check_an_early_switch=not partially_labeled)


def test_the_tail_leaves_out_the_teachers_steps_under_jax():
  """The partially labeled case (a forward-only teacher in the tail); the labeled case differs only in
  TeacherStudent.forward_roles, which the TensorFlow test covers."""
  pytest.importorskip("jax", reason="JAX is installed by the test extra (bash tools/setup.sh --test)")
  code = ("import test_teacher_update as t; t.check_teacher_steps_left_out_in_the_tail(partially_labeled=True); "
          "print('left out ok')")
  result = runners.run_jax_snippet(code, cwd=os.path.dirname(os.path.abspath(__file__)))
  assert result.returncode == 0 and "left out ok" in result.stdout, result.stdout[-2000:] + result.stderr[-3000:]


def test_averaged_single_model_is_the_network_a_user_gets(tmp_path):
  """--average_student: the student alone trains, the teacher (its moving average) is evaluated and loaded;
  the flag without --noasync_learning is refused."""
  from tsal_tf.model.config import NetworkConfig
  from tsal_tf.objective import ObjectiveConfig
  from tsal_tf.runs import evaluated_roles, has_teacher, read_run_flags
  from tsal_tf.teacher_student import TeacherStudent
  config = NetworkConfig(input_size=32, widths=(8, 16), head_width=8, flow_widths=(8, 16), flow_scales=2)
  for average_student in (False, True):
    model = TeacherStudent(config, ObjectiveConfig(), steps_per_epoch=1, async_learning=False,
                           average_student=average_student)
    assert [role for role, _ in model.roles()] == ["student"]
    assert list(model.evaluated_roles()) == (["teacher", "student"] if average_student else ["student"])
    assert model.evaluated_network() is (model.teacher if average_student else model.student)
  for lines, expected in ((["--noasync_learning", "--noaverage_student"], False),
                          (["--noasync_learning", "--average_student"], True), (["--async_learning"], True), ([], True)):
    (tmp_path / "flags.txt").write_text("".join(f"{line}\n" for line in lines))
    run_flags = read_run_flags(str(tmp_path))
    assert has_teacher(run_flags) is expected, lines
    assert evaluated_roles(run_flags, "t", "s") == ({"teacher": "t", "student": "s"} if expected else {"student": "s"})
  code = "from absl import flags; from tsal_tf import flag_defs; flags.FLAGS(['train', '--average_student'])"
  result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert result.returncode != 0 and "--average_student needs --noasync_learning" in result.stderr, result.stderr


def test_swa_start_needs_a_teacher():
  """--swa_start below 1 is refused for a single model without a teacher and accepted for a trained teacher
  (the tail on top of its own steps) and an untrained one (--average_student)."""
  for args, accepted in ((["--noasync_learning"], False), ([], True),
                         (["--noasync_learning", "--average_student"], True)):
    code = ("from absl import flags; from tsal_tf import flag_defs; "
            f"flags.FLAGS(['train', '--swa_start=0.5', *{args!r}])")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert (result.returncode == 0) is accepted, (args, result.stderr)
    assert accepted or "--swa_start below 1" in result.stderr, result.stderr


def test_swa_start_step_is_the_fraction_of_the_run_before_the_tail():
  """--swa_start=0.5 of 17,868 steps starts the tail after step 8,934 (floor for odd totals); 1 means no tail."""
  assert teacher_update.swa_start_step(0.5, 17868) == 8934
  assert teacher_update.swa_start_step(0.5, 4467) == 2233
  assert teacher_update.swa_start_step(1.0, 17868) is None


@pytest.mark.parametrize("swa_start", [None, 6])
def test_an_untrained_teachers_lambda_warms_up_from_the_first_step(swa_start):
  """warmup: lambda_t = min(lambda, (1 + t) / (10 + t)) (TensorFlow's ExponentialMovingAverage with num_updates),
  so the initial weights fade as prod (1 + t) / (10 + t) rather than lambda^t; with swa_start the tail turns
  uniform once n (1 - lambda_t) > 1. Oracle: the recursion written out in NumPy."""
  student, teacher = _pair(0.0, 5.0)
  ema_lambda = 0.5  # lambda rules from t = 8 on, (1 + t) / (10 + t) before
  queue = StudentWeightQueue(student, teacher, length=1, ema_lambda=ema_lambda, swa_start=swa_start, warmup=True)
  functional = [np.full(t.shape, 5.0, np.float32) for t in teacher.weights]
  oracle, switched, takes = 5.0, None, []
  for step, value in enumerate([3.0, -1.0, 4.0, 1.0, 0.5, 2.0, 7.0, -3.0, 2.5, 6.0, 1.5, 0.0], 1):
    for s in student.weights:
      s.assign(np.full(s.shape, value, np.float32))
    queue.update(step)
    *_, functional = functional_update([], [], 0, step, [s.numpy() for s in student.weights], functional, 1,
                                       ema_lambda, swa_start, step, warmup=True)
    take = max(1.0 - ema_lambda, 9.0 / (10.0 + step))
    takes.append(take)
    if swa_start is not None and (step - swa_start) * take > 1.0:
      switched = switched or step
      take = 1.0 / (step - swa_start)
    oracle = (1.0 - take) * oracle + take * value
    for t, f in zip(teacher.weights, functional):
      np.testing.assert_allclose(t.numpy(), oracle, rtol=1e-5, err_msg=f"step {step}")
      np.testing.assert_allclose(np.asarray(f), oracle, rtol=1e-5, err_msg=f"functional, step {step}")
  # Step 1 takes 9/11 of the student (lambda alone would take 0.5), steps 9-12 take 1 - lambda. The tail turns
  # uniform at step 9: n = 3 and 3 * 0.5 > 1 (step 8: 2 * 9 / 18 = 1).
  assert takes[0] == pytest.approx(9 / 11) and takes[8:] == [0.5] * 4
  assert switched == (None if swa_start is None else 9)
