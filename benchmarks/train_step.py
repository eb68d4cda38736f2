"""One TSAL step (student + teacher, K frames, eq. 8 queue update) vs one supervised single-model step.

The supervised step trains one landmark network (no motion field, no teacher) with the heatmap and CLOR
losses on the same B x K frames, as if every frame were labeled: the cost of plain supervised training on
the same batch.

    .venv/bin/python benchmarks/train_step.py [--flagfile=configs/demo.flags] [--steps 10]

Both run on the same batch shapes and network, interleaved, in one process; prints the median step times,
their ratio (target: TSAL at most 2.5x the supervised step) and the cost of the queue update alone, and the
TSAL step of an average tail (--tail_teacher=average after --swa_start), which leaves the teacher's own step
out (TeacherStudent.train_teacher_at).
"""

import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app  # noqa: E402
from absl import flags  # noqa: E402

from tsal_tf import flag_defs  # noqa: E402,F401

flags.DEFINE_integer("steps", 10, "Timed steps per variant.")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  import keras
  import tensorflow as tf
  from tsal_tf import experiment, losses
  from tsal_tf.data import pipelines
  from tsal_tf.model import decoders, network
  from tsal_tf.teacher_student import TeacherStudent

  data = experiment.build_data()
  net_config = experiment.network_config(data.scheme.num_points)
  batch = next(iter(pipelines.make_dataset(data.train, FLAGS.batch_size)))
  tsal = TeacherStudent(net_config, experiment.objective_config(), steps_per_epoch=100,
                        queue_length=FLAGS.queue_length, ema_lambda=FLAGS.ema_lambda,
                        partial_labels=data.partial_labels)
  tsal.compile(keras.optimizers.Adam(1e-4))
  update = tf.function(tsal.queue.update)
  tsal_step = tf.function(tsal.train_step)  # includes the eq. 8 update
  tail = TeacherStudent(net_config, experiment.objective_config(), steps_per_epoch=100,
                        queue_length=FLAGS.queue_length, ema_lambda=FLAGS.ema_lambda, swa_start=0,
                        tail_teacher="average", partial_labels=data.partial_labels)
  tail.compile(keras.optimizers.Adam(1e-4))
  tail.train_teacher_at(tail.first_untrained_teacher_step())
  tail_step = tf.function(tail.train_step)

  supervised = network.build_network(net_config, "supervised").landmark_net
  optimizer = keras.optimizers.Adam(1e-4)
  config = experiment.objective_config()
  size, stride = net_config.input_size, net_config.heatmap_stride

  @tf.function
  def supervised_step(data):
    frames = tf.reshape(tf.cast(data["frames"], "float32") / 255.0, (-1, size, size, 3))
    labels = decoders.to_heatmap_coords(tf.reshape(data["landmarks"], (-1, net_config.num_points, 2)), stride)
    with tf.GradientTape() as tape:
      outputs = supervised(frames, training=True)
      target = losses.gaussian_heatmaps(labels, net_config.heatmap_size, net_config.heatmap_size,
                                        config.heatmap_sigma)
      loss = (config.heatmap_weight * losses.heatmap_mse(outputs["heatmaps"], target, config.foreground_weight)
              + losses.clor_loss(outputs["centre"], outputs["offsets"], labels))
    optimizer.apply(tape.gradient(loss, supervised.trainable_variables), supervised.trainable_variables)
    return loss

  variants = {"tsal": lambda: tsal_step(batch), "tsal tail": lambda: tail_step(batch),
              "supervised": lambda: supervised_step(batch), "queue update": update}
  for fn in variants.values():
    fn()
  times = {name: [] for name in variants}
  for _ in range(FLAGS.steps):
    for name, fn in variants.items():
      start = time.perf_counter()
      result = fn()
      tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, result)
      times[name].append(time.perf_counter() - start)
  median = {name: statistics.median(v) for name, v in times.items()}
  params = tsal.student.count_params()
  print(f"network {params / 1e6:.2f}M parameters, input {net_config.input_size}px, batch {FLAGS.batch_size}, "
        f"K = {FLAGS.clip_length}, queue v = {FLAGS.queue_length}")
  print(f"  TSAL step (student + teacher on K frames + queue): {1e3 * median['tsal']:8.1f} ms")
  print(f"  supervised single-model step (same B x K frames):  {1e3 * median['supervised']:8.1f} ms")
  print(f"  of which the eq. 8 queue update (on device):       {1e3 * median['queue update']:8.1f} ms")
  print(f"  ratio TSAL / supervised: {median['tsal'] / median['supervised']:.2f}x (target <= 2.5x)")
  print(f"  TSAL step of an average tail (the teacher's step left out): {1e3 * median['tsal tail']:8.1f} ms, "
        f"{median['tsal tail'] / median['tsal']:.2f}x the TSAL step")


if __name__ == "__main__":
  app.run(main)
