"""Throughput and latency of the exported model (stock TensorFlow, as TF Serving runs it) and of `infer`.

    .venv/bin/python benchmarks/serving.py --saved_model=serving/tsal/1 [--video=../shared/data/video/demo-sbr.mp4]

Prints frames/s and p50/p95 latency of the serving_default signature at batch 1 and batch 8 (224x224 uint8
face crops, resized inside), and the end-to-end frames/s of `infer` on the video (decode, crop, predict,
draw, encode), all measured in this run.
"""

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def latencies(fn, repeats):
  for _ in range(3):
    fn()
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return np.array(times)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--saved_model", required=True)
  parser.add_argument("--video", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data",
                                                      "video", "demo-sbr.mp4"))
  parser.add_argument("--repeats", type=int, default=30)
  args = parser.parse_args()
  serve = tf.saved_model.load(args.saved_model).signatures["serving_default"]
  rng = np.random.default_rng(0)
  print(f"{os.cpu_count()} CPU cores, SavedModel {args.saved_model}")
  for batch in (1, 8):
    images = tf.constant(rng.integers(0, 256, (batch, 224, 224, 3), dtype=np.uint8))
    boxes = tf.fill([batch, 4], -1.0)
    times = latencies(lambda: serve(images=images, boxes=boxes)["landmarks"].numpy(), args.repeats)
    print(f"  serving_default batch {batch}: {batch / np.median(times):7.1f} faces/s, "
          f"p50 {1e3 * np.percentile(times, 50):6.1f} ms, p95 {1e3 * np.percentile(times, 95):6.1f} ms")
  if os.path.isfile(args.video):
    from tsal_tf import video_landmarks
    with tempfile.TemporaryDirectory() as folder:
      start = time.perf_counter()
      raw, _ = video_landmarks.run(args.video, video_landmarks.SavedModelPredictor(args.saved_model),
                                   smoothing=0.5, output=os.path.join(folder, "out.mp4"))
      seconds = time.perf_counter() - start
    print(f"  infer on {os.path.basename(args.video)}: {len(raw)} frames in {seconds:.1f} s = "
          f"{len(raw) / seconds:.1f} frames/s (decode + detect + crop + predict + draw + encode)")


if __name__ == "__main__":
  main()
