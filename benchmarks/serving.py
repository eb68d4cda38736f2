"""Throughput and latency of the exported model (stock TensorFlow, as TF Serving runs it) and of `infer`.

    .venv/bin/python benchmarks/serving.py --saved_model=serving/tsal/1 [--video=../shared/data/video/demo-sbr.mp4] \
        [--data_dir=../shared/data/300w_helen_test,../shared/data/300w_lfpw_test]

Prints frames/s and p50/p95 latency of the serving_default signature at batch 1 and batch 8 (224x224 uint8
face crops, resized inside), and the end-to-end frames/s of `infer` on the video (decode, crop, predict,
draw, encode), all measured in this run. With --data_dir, also the NME (inter-pupil) of serving_default's
landmarks on those 300W faces, each image sent whole with its annotation's face box (the landmark box where the
annotation has none), so that the model crops it as `evaluate` does.
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


def served_nme(serve, folders):
  """(metrics.summarize of the inter-pupil NME of serving_default's landmarks, face count) on 300W folders."""
  from tsal_tf import metrics
  from tsal_tf.data import augment, formats
  samples, _ = formats.load_pts_folders(folders)
  errors = []
  for sample in samples:
    box = augment.source_box(sample.landmarks, sample.box)
    landmarks = serve(images=tf.constant(formats.read_image(sample.image_path)[None]),
                      boxes=tf.constant(box[None], tf.float32))["landmarks"].numpy()
    errors.append(metrics.per_face_nme(landmarks, sample.landmarks[None], "inter_pupil")[0])
  return metrics.summarize(errors), len(samples)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--saved_model", required=True)
  parser.add_argument("--video", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data",
                                                      "video", "demo-sbr.mp4"),
                      help="video for infer's frames/s (a path that is not a file, e.g. none, skips it)")
  parser.add_argument("--repeats", type=int, default=30)
  parser.add_argument("--data_dir", default=None, help="comma-separated 300W folders to measure NME on")
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
  if args.data_dir:
    summary, count = served_nme(serve, args.data_dir.split(","))
    print(f"  serving_default on {count} faces of {args.data_dir}: NME inter-pupil {100 * summary['nme']:.2f}%, "
          f"AUC@0.08 {summary['auc']:.4f}, FR@0.08 {100 * summary['fr']:.2f}%")
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
