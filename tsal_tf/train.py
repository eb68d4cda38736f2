"""Train TSAL: `python -m tsal_tf.train --flagfile=configs/<name>.flags`.

Reads top to bottom like the algorithm: build data, build the teacher-student model under the
distribution strategy, restore (with --resume), fit with the eq. 8 teacher update after every step,
checkpoint, validate, and print the validation NME before and after training.
"""

import json
import os
import sys

from absl import app
from absl import flags
from absl import logging

from tsal_tf import flag_defs  # noqa: F401  (defines the flags)

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


def run():
  import keras
  import numpy as np
  import tensorflow as tf

  from tsal_tf import callbacks
  from tsal_tf import experiment
  from tsal_tf import teacher_student
  from tsal_tf import teacher_update
  from tsal_tf.data import pipelines

  configure_devices(FLAGS.cpu_devices)
  keras.utils.set_random_seed(FLAGS.seed)
  if FLAGS.deterministic:
    tf.config.experimental.enable_op_determinism()
  strategy = make_strategy(FLAGS.cpu_devices)
  run_dir = worker_run_dir(strategy, FLAGS.run_dir)
  os.makedirs(run_dir, exist_ok=True)
  data = experiment.build_data()
  net_config = experiment.network_config()
  experiment.save_flags(run_dir)
  steps_per_epoch = FLAGS.steps_per_epoch or max(1, len(data.train) // FLAGS.batch_size)
  logging.info("training examples: %d, steps per epoch: %d", len(data.train), steps_per_epoch)

  with strategy.scope():
    model = teacher_student.TeacherStudent(
        net_config, experiment.objective_config(), steps_per_epoch,
        omega_epochs=(FLAGS.climb_end, FLAGS.retain_end, FLAGS.epochs), async_learning=FLAGS.async_learning)
    model.compile(experiment.optimizer(steps_per_epoch), experiment.optimizer(steps_per_epoch))
    queue = teacher_update.StudentWeightQueue(model.student, model.teacher, FLAGS.queue_length, FLAGS.ema_lambda)
  step = model.student_optimizer.iterations
  checkpoint = tf.train.Checkpoint(student=model.student, teacher=model.teacher,
                                   student_optimizer=model.student_optimizer,
                                   teacher_optimizer=model.teacher_optimizer, queue=queue.variables)
  manager = tf.train.CheckpointManager(checkpoint, os.path.join(run_dir, "checkpoints"), max_to_keep=3)
  if FLAGS.resume and manager.latest_checkpoint:
    checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
    print(f"resumed from {manager.latest_checkpoint} at step {int(step.numpy())}", flush=True)
  elif manager.latest_checkpoint:
    raise SystemExit(f"{run_dir} already holds checkpoints: pass --resume to continue, or choose "
                     f"another --run_dir")

  validation = callbacks.Validation(data.val_images, data.val_landmarks, data.val_clip_frames,
                                    data.val_clip_landmarks, FLAGS.normalizer, run_dir, FLAGS.gamma,
                                    subsets=data.val_subsets)
  validation.set_model(model)
  before = validation.measure()
  role = "teacher" if FLAGS.async_learning else "student"
  print(f"validation NME ({FLAGS.normalizer}) at step {int(step.numpy())}: "
        f"{100 * before[f'val/{role}/fused_nme']:.2f}%", flush=True)

  clock_path = os.path.join(run_dir, "train_clock.json")
  if not FLAGS.resume and os.path.exists(clock_path):
    os.remove(clock_path)  # a fresh run (no checkpoints, checked above) starts its clock at zero
  clock = callbacks.TrainClock(clock_path, step)
  callback_list = [callbacks.NaNGuard(step), clock]
  if FLAGS.async_learning:
    callback_list.append(callbacks.TeacherUpdate(queue))
  callback_list += [callbacks.Checkpointer(manager, step, FLAGS.checkpoint_every), validation,
                    keras.callbacks.TensorBoard(os.path.join(run_dir, "tensorboard"), update_freq=50)]
  total = FLAGS.epochs * steps_per_epoch
  while (done := int(step.numpy())) < total:
    epoch, into_epoch = divmod(done, steps_per_epoch)
    # The dataset restarts at the next unseen batch; a resumed run first finishes its interrupted epoch.
    dataset = pipelines.make_dataset(data.train, FLAGS.batch_size, seed=FLAGS.seed, start_batch=done)
    model.fit(dataset, epochs=epoch + 1 if into_epoch else FLAGS.epochs, initial_epoch=epoch,
              steps_per_epoch=steps_per_epoch - into_epoch, callbacks=callback_list, verbose=FLAGS.verbose,
              shuffle=False)  # the dataset reshuffles per epoch itself (seeded, resumable)
  after = validation.final()
  summary = {"step": int(step.numpy()), "train_seconds": clock.seconds(), "before": before, "after": after}
  from tsal_tf.io_utils import atomic_write_json
  atomic_write_json(os.path.join(run_dir, "final_validation.json"), summary)
  print(f"validation NME ({FLAGS.normalizer}) after training (step {summary['step']}): "
        + experiment.describe_nme(after), flush=True)
  return summary


def main(argv):
  del argv
  try:
    run()
  except Exception as error:  # a clear one-line message for the errors users can fix
    from tsal_tf.callbacks import TrainingDivergedError
    from tsal_tf.data.formats import AnnotationError, ImageReadError
    if isinstance(error, (TrainingDivergedError, AnnotationError, ImageReadError, FileNotFoundError, ValueError)):
      print(f"error: {error}", file=sys.stderr)
      sys.exit(2)
    raise


if __name__ == "__main__":
  app.run(main)
