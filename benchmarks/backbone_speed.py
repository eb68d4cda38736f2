"""Time one supervised step of landmark-net variants (TensorFlow, this CPU): the throughput table of core.md.

    .venv/bin/python benchmarks/backbone_speed.py 32,64,96,128,192:1:64:0 32,64,128,192,256:1:64:128:bfloat16

Each argument is widths:blocks:head_width:lhr_width[:precision] (precision float32 or bfloat16). A `tf.function` step (forward, the softmax LHR loss +
the CLOR loss, gradient, Adam) on a random batch of 16 crops of 128 px, timed over 10 steps after 2 warm-up
steps; prints parameters, ms per step and images per second.
"""

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def time_variant(widths, blocks, head_width, lhr_width, precision="float32", size=128, stride=4, batch=16, steps=10):
  import keras
  import tensorflow as tf
  from tsal_tf import losses
  from tsal_tf.model import backbone
  from tsal_tf.model.config import NetworkConfig
  from tsal_tf.objective import ObjectiveConfig
  config = NetworkConfig(input_size=size, heatmap_stride=stride, widths=widths, blocks=blocks,
                         head_width=head_width, lhr_width=lhr_width, precision=precision)
  net = backbone.build_landmark_network(config)
  optimizer = keras.optimizers.Adam(1e-3)
  objective = ObjectiveConfig()
  frames = tf.random.uniform((batch, size, size, 3))
  points = tf.random.uniform((batch, config.num_points, 2), 4, size // stride - 4)

  @tf.function(jit_compile=False)
  def step():
    with tf.GradientTape() as tape:
      outputs = net(frames, training=True)
      loss = (losses.heatmap_loss(outputs["heatmaps"], points, objective)
              + losses.clor_loss(outputs["centre"], outputs["offsets"], points))
    optimizer.apply(tape.gradient(loss, net.trainable_variables), net.trainable_variables)
    return loss

  step(), step()
  start = time.perf_counter()
  for _ in range(steps):
    float(step())
  seconds = (time.perf_counter() - start) / steps
  return net.count_params(), seconds, batch / seconds


def main():
  specs = sys.argv[1:] or ["32,64,96,128,192:1:64:0", "32,64,128,192,256:1:64:0", "32,64,128,192,256:1:64:128",
                           "32,64,128,192,256:1:64:128:bfloat16"]
  for spec in specs:
    widths, blocks, head_width, lhr_width, *precision = spec.split(":")
    precision = precision[0] if precision else "float32"
    params, seconds, rate = time_variant(tuple(int(w) for w in widths.split(",")), int(blocks), int(head_width),
                                         int(lhr_width), precision)
    print(f"widths {widths} blocks {blocks} decoder {head_width} lhr {lhr_width} {precision}: "
          f"{params / 1e6:.2f} M parameters, "
          f"{1e3 * seconds:.0f} ms per step, {rate:.0f} images/s", flush=True)


if __name__ == "__main__":
  main()
