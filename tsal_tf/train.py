"""Train TSAL: `python -m tsal_tf.train --flagfile=configs/<name>.flags`.

Trains under the active Keras backend: TensorFlow by default (any tf.distribute strategy), JAX with
`KERAS_BACKEND=jax` (the GPU machine, which has no TensorFlow). Reads top to bottom like the algorithm: build
data, build the teacher-student model, restore (with --resume), fit (each step ends with the eq. 8 teacher
update), checkpoint, validate, and print the validation NME before and after training. Only the step itself
differs between the backends (teacher_student.TeacherStudent.train_step).
"""

import json
import os
import sys
import time

from absl import flags

from tsal_tf import cli  # first: quiets TensorFlow's C++ start-up log
from tsal_tf import errors
from tsal_tf import flag_defs  # noqa: F401  (defines the flags)
from tsal_tf import hardware

FLAGS = flags.FLAGS


def configure_devices(cpu_devices):
  """Split the CPU into `cpu_devices` logical devices (must run before TensorFlow initialises)."""
  import tensorflow as tf
  if cpu_devices > 1:
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * cpu_devices)


def make_strategy(cpu_devices):
  """MultiWorkerMirroredStrategy when TF_CONFIG names several workers, MirroredStrategy over the GPUs or over
  --cpu_devices > 1 logical CPUs, else the default strategy (one device: mirroring would only add the cost
  of its cross-replica reductions, about 40% of a CPU step)."""
  import tensorflow as tf
  cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
  if len(cluster.get("worker", [])) > 1:
    return tf.distribute.MultiWorkerMirroredStrategy()
  gpus = tf.config.list_logical_devices("GPU")
  if gpus:
    return tf.distribute.MirroredStrategy([d.name for d in gpus])
  if cpu_devices > 1:
    return tf.distribute.MirroredStrategy([d.name for d in tf.config.list_logical_devices("CPU")][:cpu_devices])
  return tf.distribute.get_strategy()


def worker_run_dir(strategy, run_dir):
  """The chief (or the only worker) writes to run_dir; other multi-worker workers to run_dir/worker_<i>."""
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or resolver.task_type in (None, "chief") or (
      resolver.task_type == "worker" and resolver.task_id == 0):
    return run_dir
  return os.path.join(run_dir, f"{resolver.task_type}_{resolver.task_id}")


def make_batches(data, start_batch, num_batches):
  """`num_batches` training batches from global batch `start_batch` (the same stream under both backends)."""
  import keras
  if keras.backend.backend() == "tensorflow":
    from tsal_tf.data import pipelines
    return pipelines.make_dataset(data.train, FLAGS.batch_size, seed=FLAGS.seed, start_batch=start_batch)
  from tsal_tf.data.pydataset import SourceBatches
  return SourceBatches(data.train, FLAGS.batch_size, num_batches, FLAGS.seed, start_batch, FLAGS.workers,
                       FLAGS.worker_processes)


def run():
  import contextlib

  import keras

  from tsal_tf import callbacks
  from tsal_tf import checkpoints
  from tsal_tf import experiment
  from tsal_tf import teacher_student
  from tsal_tf import teacher_update
  from tsal_tf.data import augment
  from tsal_tf.io_utils import atomic_write_json
  from tsal_tf.io_utils import atomic_write_text

  backend = keras.backend.backend()
  if backend not in ("tensorflow", "jax"):
    raise ValueError(f"KERAS_BACKEND={backend} is not supported: use tensorflow (default) or jax")
  keras.utils.set_random_seed(FLAGS.seed)
  run_dir, scope = FLAGS.run_dir, contextlib.nullcontext
  if backend == "tensorflow":
    import tensorflow as tf
    configure_devices(FLAGS.cpu_devices)
    if FLAGS.deterministic:
      tf.config.experimental.enable_op_determinism()
    strategy = make_strategy(FLAGS.cpu_devices)
    run_dir, scope = worker_run_dir(strategy, run_dir), strategy.scope
  os.makedirs(run_dir, exist_ok=True)
  data = experiment.build_data()
  net_config = experiment.network_config(data.scheme.num_points)
  steps_per_epoch = FLAGS.steps_per_epoch or max(1, len(data.train) // FLAGS.batch_size)
  total = FLAGS.epochs * steps_per_epoch
  print(f"training {len(data.train)} examples ({len(data.labeled_names)} labeled), {FLAGS.epochs} epochs of "
        f"{steps_per_epoch} steps, Keras backend {backend}, precision "
        f"{hardware.resolve_precision(net_config.precision)}, run directory {run_dir}", flush=True)

  with scope():
    model = teacher_student.TeacherStudent(
        net_config, experiment.objective_config(), steps_per_epoch,
        omega_epochs=(FLAGS.climb_end, FLAGS.retain_end, FLAGS.epochs), async_learning=FLAGS.async_learning,
        average_student=FLAGS.average_student, queue_length=FLAGS.queue_length, ema_lambda=FLAGS.ema_lambda,
        swa_start=teacher_update.swa_start_step(FLAGS.swa_start, total), tail_teacher=FLAGS.tail_teacher,
        partial_labels=data.partial_labels, guide_flip_test=FLAGS.guide_flip_test,
        mirror_shift=augment.centre_mirror_shift(FLAGS.input_size, FLAGS.label_x_offset, FLAGS.crop_margin))
    # TensorFlow: the custom ops have no XLA kernels; JAX: the step is jitted.
    model.compile(experiment.optimizer(steps_per_epoch), jit_compile=backend == "jax")
  step = lambda: int(keras.ops.convert_to_numpy(model.optimizer.iterations.value))
  manager = checkpoints.CheckpointManager(os.path.join(run_dir, "checkpoints"), model.checkpoint_groups())
  resumed = bool(FLAGS.resume and manager.latest_checkpoint)
  if resumed:
    manager.restore(manager.latest_checkpoint)
    print(f"resumed from {manager.latest_checkpoint} at step {step()}", flush=True)
  elif manager.latest_checkpoint:
    raise ValueError(f"{run_dir} already holds checkpoints: pass --resume to continue, or choose another "
                     f"--run_dir")
  elif FLAGS.init_from:
    from tsal_tf import runs
    trained, _, _ = runs.load_networks(FLAGS.init_from)
    for net in (model.student, model.teacher):
      runs.copy_weights(trained, net, FLAGS.init_from)
    print(f"initialised from {FLAGS.init_from}", flush=True)
  pretraining_seconds = 0.0
  if FLAGS.motion_pretrain_steps and not resumed:
    from tsal_tf import motion_pretrain
    start = time.time()
    with scope():
      motion_pretrain.pretrain_motion(
          model, lambda first, count: make_batches(data, first, count), FLAGS.motion_pretrain_steps,
          FLAGS.motion_pretrain_lr, experiment.objective_config(), data.val_clip_frames, data.val_clip_landmarks,
          FLAGS.normalizer, jit_compile=backend == "jax")
    pretraining_seconds = time.time() - start  # part of the run's training time (TrainClock)
  # Written once the run is known to be new or resumed, so that a refused rerun leaves the run as it was.
  experiment.save_flags(run_dir, data.scheme.num_points)
  if FLAGS.label_fraction < 1.0:
    atomic_write_text(os.path.join(run_dir, "labeled.txt"), "".join(f"{name}\n" for name in data.labeled_names))

  validation = callbacks.Validation(data.val_images, data.val_landmarks, data.val_clip_frames,
                                    data.val_clip_landmarks, FLAGS.normalizer, run_dir, FLAGS.gamma,
                                    subsets=data.val_subsets)
  validation.set_model(model)
  before = validation.measure()
  validation.start_history(step(), steps_per_epoch, before)
  role = "teacher" if model.has_teacher else "student"
  print(f"validation NME ({FLAGS.normalizer}) at step {step()}: {100 * before[f'val/{role}/fused_nme']:.2f}%",
        flush=True)

  clock_path = os.path.join(run_dir, "train_clock.json")
  if not resumed and os.path.exists(clock_path):
    os.remove(clock_path)  # a fresh run (no checkpoints, checked above) starts its clock at zero
  clock = callbacks.TrainClock(clock_path, pretraining_seconds, resumed_step=step())
  time_limit = callbacks.TimeLimit(FLAGS.max_train_minutes or float("inf"), pretraining_seconds)
  checkpointer = callbacks.Checkpointer(manager, FLAGS.checkpoint_every)
  signal_stop = callbacks.SignalStop(checkpointer)
  callback_list = [callbacks.TeacherSteps(), callbacks.NaNGuard(), clock, time_limit, checkpointer, signal_stop,
                   validation]
  if FLAGS.verbose:
    callback_list.append(callbacks.Progress(total, steps_per_epoch, step_lines=FLAGS.verbose == 1))
  if callbacks.tensorflow_available():  # TensorBoard's writer; the GPU machine's JAX has no TensorFlow
    callback_list.append(callbacks.RunTensorBoard(os.path.join(run_dir, "tensorboard"), update_freq=50))
  # One fit per epoch: a resumed run first finishes its interrupted epoch, and every fit's data starts at the
  # next unseen batch of the run's one seeded stream.
  try:
    with signal_stop.installed():
      while (done := step()) < total and time_limit.stopped_at_step is None:
        epoch, into_epoch = divmod(done, steps_per_epoch)
        remaining = steps_per_epoch - into_epoch
        model.fit(make_batches(data, done, remaining), epochs=epoch + 1, initial_epoch=epoch,
                  steps_per_epoch=remaining, callbacks=callback_list, verbose=0, shuffle=False)
  except errors.TrainingInterrupted:
    clock.write()  # the seconds spent up to the saved step
    raise
  if total == 0 and not resumed:
    # A run of no steps (e.g. --motion_pretrain_steps alone) keeps its networks as they are, so that other runs
    # can start from them (--init_from).
    manager.save(0)
  after = validation.final()
  summary = {"step": step(), "planned_steps": total, "train_seconds": clock.seconds(), "backend": backend,
             "before": before, "after": after}
  atomic_write_json(os.path.join(run_dir, "final_validation.json"), summary)
  print(f"validation NME ({FLAGS.normalizer}) after training (step {summary['step']}): "
        + experiment.describe_nme(after), flush=True)
  return summary


def main(argv):
  del argv
  try:
    run()
  except errors.TrainingInterrupted as error:
    print(f"interrupted: {error}", file=sys.stderr, flush=True)
    sys.exit(128 + error.signum)  # the shell's status of a process ended by that signal


if __name__ == "__main__":
  cli.run(main)
