"""Samples per second of each data pipeline (tf.data over the NumPy/OpenCV sources), on this machine.

    .venv/bin/python benchmarks/data_pipelines.py [--batches 20]

Training consumes batch_size clips per step; compare these rates with the step rate of
benchmarks/train_step.py (the pipeline must deliver more clips per second than training uses, and on a CPU
every core it spends is one the step does not get). The 300W images are decoded once before timing, as
training's image cache holds them after the first epoch.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tsal_tf.data import augment, formats, pipelines, schemes, sources  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data")


def rate(source, batch_size, batches):
  dataset = iter(pipelines.make_dataset(source, batch_size, seed=1))
  next(dataset)  # start-up (first image decodes, tracing)
  start = time.perf_counter()
  for _ in range(batches):
    next(dataset)
  return batches * batch_size / (time.perf_counter() - start)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--batches", type=int, default=20)
  parser.add_argument("--batch_size", type=int, default=8)
  args = parser.parse_args()
  train = formats.load_pts_folder(os.path.join(DATA, "300w_helen_train"))
  videos = formats.load_300vw(os.path.join(DATA, "300vw_sample"))
  pipelines_to_time = {
      "300W images, augmented, 128 px": sources.ImageSource(train, 128, schemes.IBUG68, augment.TRAIN_AUGMENT),
      # configs/300w_cpu.flags: 1-frame clips for the supervised model, 2-frame clips for TSAL; 300w_gpu: 256 px.
      "300W stills -> 1-frame clips, 128 px": sources.StillClipSource(train, 128, 1, schemes.IBUG68,
                                                                      augment.TRAIN_AUGMENT),
      "300W stills -> 2-frame clips, 128 px": sources.StillClipSource(train, 128, 2, schemes.IBUG68,
                                                                      augment.TRAIN_AUGMENT),
      "300W stills -> 1-frame clips, 256 px": sources.StillClipSource(train, 256, 1, schemes.IBUG68,
                                                                      augment.TRAIN_AUGMENT),
      "synthetic 3-frame clips, 64 px": sources.SyntheticClipSource(2000, 64, 3),
      "300VW 2-frame clips, 96 px": sources.VideoClipSource(videos, 96, 2, schemes.IBUG68, augment.TRAIN_AUGMENT,
                                                            label_stride=1),
  }
  warm_up = pipelines_to_time["300W images, augmented, 128 px"]
  for index in range(len(warm_up)):  # decode each image once, as training's cache does after its first epoch
    warm_up.example(index)
  print(f"{os.cpu_count()} CPU cores; batches of {args.batch_size}, {args.batches} batches each")
  for name, source in pipelines_to_time.items():
    print(f"  {name:40s} {rate(source, args.batch_size, args.batches):8.1f} samples/s")


if __name__ == "__main__":
  main()
