"""Custom ops vs their pure-TF references (plain and XLA-compiled) at TSAL training shapes.

    .venv/bin/python benchmarks/ops.py [--repeats 20]

Prints, from one run, the median time of each variant and the speed-up of the custom op over each
reference, forward and forward+backward; for the heatmap parser also its achieved GB/s (bytes of heatmaps
read / time) next to a memcpy of the same bytes (numpy copyto; the physical limit of one pass).
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tsal_tf.ops import loader, reference  # noqa: E402


def median_seconds(variants, repeats, warmup=3):
  """{name: fn} -> {name: median seconds}; rounds interleave the variants so machine noise hits all alike."""
  for fn in variants.values():
    for _ in range(warmup):
      fn()
  times = {name: [] for name in variants}
  for _ in range(repeats):
    for name, fn in variants.items():
      start = time.perf_counter()
      fn()
      times[name].append(time.perf_counter() - start)
  return {name: statistics.median(values) for name, values in times.items()}


def run_tf(fn, *args):
  return lambda: [t.numpy() for t in tf.nest.flatten(fn(*args))]


def forward_backward(warp):
  def step(image, flow, weights):
    with tf.GradientTape() as tape:
      tape.watch([image, flow])
      loss = tf.reduce_sum(warp(image, flow) * weights)
    return tape.gradient(loss, [image, flow])
  return step


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--repeats", type=int, default=20)
  parser.add_argument("--clip_length", type=int, default=3, help="K: warps run on 8 * (K - 1) frame pairs")
  args = parser.parse_args()
  library = loader.load()
  if library is None:
    raise SystemExit("custom-op library not built: run tools/build_ops.sh")
  rng = np.random.default_rng(0)
  print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPU cores, library {library.path}, median of "
        f"{args.repeats} runs\n")

  heatmaps = tf.constant(rng.uniform(size=(8, 64, 64, 68)).astype(np.float32))
  variants = {"custom": tf.function(library.heatmap_to_coords),
              "reference": tf.function(reference.heatmap_to_coords),
              "reference+XLA": tf.function(reference.heatmap_to_coords, jit_compile=True)}
  source = heatmaps.numpy()
  target = np.empty_like(source)
  times = median_seconds({**{k: run_tf(f, heatmaps) for k, f in variants.items()},
                          "memcpy": lambda: np.copyto(target, source)}, args.repeats)
  memcpy = times.pop("memcpy")
  gigabytes = source.nbytes / 1e9
  print(f"HeatmapToCoords [8,64,64,68] ({source.nbytes / 1e6:.1f} MB):")
  for name, seconds in times.items():
    print(f"  {name:14s} {1e3 * seconds:8.3f} ms  {gigabytes / seconds:6.2f} GB/s"
          + ("" if name == "custom" else f"   custom is {seconds / times['custom']:.1f}x faster"))
  print(f"  {'memcpy':14s} {1e3 * memcpy:8.3f} ms  {gigabytes / memcpy:6.2f} GB/s   "
        f"custom reaches {100 * memcpy / times['custom']:.0f}% of memcpy bandwidth\n")

  pairs = 8 * (args.clip_length - 1)
  for size in (128, 256):
    image = tf.constant(rng.uniform(size=(pairs, size, size, 3)).astype(np.float32))
    flow = tf.constant(rng.uniform(-8, 8, (pairs, size, size, 2)).astype(np.float32))
    weights = tf.constant(rng.normal(size=(pairs, size, size, 3)).astype(np.float32))
    print(f"DenseWarp [{pairs},{size},{size},3]:")
    for mode in ("forward", "forward+backward"):
      make = (lambda w: tf.function(w)) if mode == "forward" else (lambda w: tf.function(forward_backward(w)))
      make_xla = ((lambda w: tf.function(w, jit_compile=True)) if mode == "forward"
                  else (lambda w: tf.function(forward_backward(w), jit_compile=True)))
      inputs = (image, flow) if mode == "forward" else (image, flow, weights)
      times = median_seconds({"custom": run_tf(make(library.dense_warp), *inputs),
                              "reference": run_tf(make(reference.dense_warp), *inputs),
                              "reference+XLA": run_tf(make_xla(reference.dense_warp), *inputs)}, args.repeats)
      print(f"  {mode:17s} custom {1e3 * times['custom']:8.2f} ms | reference {1e3 * times['reference']:8.2f} ms"
            f" ({times['reference'] / times['custom']:.1f}x) | reference+XLA {1e3 * times['reference+XLA']:8.2f}"
            f" ms ({times['reference+XLA'] / times['custom']:.1f}x)")
    print()


if __name__ == "__main__":
  main()
