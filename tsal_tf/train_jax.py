"""Train TSAL with Keras 3 on JAX (the GPU machine has JAX, no TensorFlow):

    KERAS_BACKEND=jax python -m tsal_tf.train_jax --flagfile=configs/<name>.flags

Same flags, networks and losses as tsal_tf.train; writes <run_dir>/flags.txt, student.weights.h5, with
asynchronous learning teacher.weights.h5 (both load under TensorFlow: `evaluate` and `export` accept such a
run directory), validation.json and final_validation.json.
"""

import os
import sys
import time

from absl import app
from absl import flags

from tsal_tf import flag_defs  # noqa: F401

flags.DEFINE_integer("workers", 8, "PyDataset worker threads producing batches.")
flags.DEFINE_float("max_train_minutes", 0, "Stop after this many minutes of training and save what was "
                   "trained (0 = no limit); for machines lent for a fixed time.")
FLAGS = flags.FLAGS


def run():
  import keras
  if keras.backend.backend() != "jax":
    raise SystemExit("train_jax needs KERAS_BACKEND=jax (for TensorFlow use python -m tsal_tf.train)")
  from tsal_tf import callbacks, experiment
  from tsal_tf.data.pydataset import SourceBatches
  from tsal_tf.io_utils import atomic_path, atomic_write_json
  from tsal_tf.teacher_student_jax import JaxTeacherStudent

  keras.utils.set_random_seed(FLAGS.seed)
  os.makedirs(FLAGS.run_dir, exist_ok=True)
  data = experiment.build_data()
  net_config = experiment.network_config()
  experiment.save_flags(FLAGS.run_dir)
  steps_per_epoch = FLAGS.steps_per_epoch or max(1, len(data.train) // FLAGS.batch_size)
  model = JaxTeacherStudent(net_config, experiment.objective_config(), steps_per_epoch,
                            (FLAGS.climb_end, FLAGS.retain_end, FLAGS.epochs), FLAGS.async_learning,
                            FLAGS.queue_length, FLAGS.ema_lambda)
  model.compile(optimizer=experiment.optimizer(steps_per_epoch), jit_compile=True)
  validation = callbacks.Validation(data.val_images, data.val_landmarks, data.val_clip_frames,
                                    data.val_clip_landmarks, FLAGS.normalizer, FLAGS.run_dir, FLAGS.gamma,
                                    subsets=data.val_subsets)
  validation.set_model(model)
  before = validation.measure()
  time_limit = callbacks.TimeLimit(FLAGS.max_train_minutes or float("inf"))
  start = time.time()
  model.fit(SourceBatches(data.train, FLAGS.batch_size, steps_per_epoch, FLAGS.seed, FLAGS.workers),
            epochs=FLAGS.epochs, callbacks=[validation, time_limit], verbose=FLAGS.verbose)
  seconds = time.time() - start
  steps = time_limit.stopped_at_step or FLAGS.epochs * steps_per_epoch
  # Without asynchronous learning only the student trains (the single model); its teacher stays at init.
  for role in ("teacher", "student") if FLAGS.async_learning else ("student",):
    with atomic_path(os.path.join(FLAGS.run_dir, f"{role}.weights.h5")) as temporary:
      getattr(model, role).save_weights(temporary)
  after = validation.final()
  atomic_write_json(os.path.join(FLAGS.run_dir, "final_validation.json"),
                    {"step": steps, "planned_steps": FLAGS.epochs * steps_per_epoch,
                     "train_seconds": seconds, "before": before, "after": after, "backend": "jax"})
  print(f"trained {steps} steps in {seconds:.0f} s; validation NME after training: "
        + experiment.describe_nme(after), flush=True)


def main(argv):
  del argv
  try:
    run()
  except (ValueError, FileNotFoundError) as error:
    print(f"error: {error}", file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
  app.run(main)
