"""Builds an experiment's parts from the flags: network and objective configs, optimizer, data."""

import collections
import os
import types

import numpy as np
from absl import flags
from absl import logging

from tsal_tf.data import augment
from tsal_tf.data import formats
from tsal_tf.data import schemes
from tsal_tf.data import sources
from tsal_tf.model.config import NetworkConfig
from tsal_tf.objective import ObjectiveConfig

FLAGS = flags.FLAGS


def save_flags(run_dir, num_points):
  """<run_dir>/flags.txt: every flag of the run (what evaluate / export read back), with --num_points set to
  the training data's point count."""
  from tsal_tf.io_utils import atomic_write_text
  lines = [f"--num_points={num_points}" if line.startswith("--num_points=") else line
           for line in FLAGS.flags_into_string().splitlines()]
  atomic_write_text(os.path.join(run_dir, "flags.txt"), "\n".join(lines) + "\n")


def describe_nme(results):
  """'student/fused_nme 12.34%, ...' of a {`val/<role>/<source>_nme`: value} dict."""
  return ", ".join(f"{k.split('/', 1)[1]} {100 * v:.2f}%" for k, v in sorted(results.items()))


def network_config(num_points):
  """The network of the flags, for landmarks of `num_points` points (the training data's scheme)."""
  return NetworkConfig(input_size=FLAGS.input_size, num_points=num_points, heatmap_stride=FLAGS.heatmap_stride,
                       widths=tuple(int(w) for w in FLAGS.widths), blocks=FLAGS.blocks, head_width=FLAGS.head_width,
                       lhr_width=FLAGS.lhr_width,
                       flow_widths=tuple(int(w) for w in FLAGS.flow_widths), flow_scales=FLAGS.flow_scales,
                       heatmap_decoder=FLAGS.heatmap_decoder, precision=FLAGS.precision)


def objective_config():
  return ObjectiveConfig(sic=FLAGS.sic, mfds=FLAGS.mfds, mu=FLAGS.mu, heatmap_loss=FLAGS.heatmap_loss,
                         heatmap_sigma=FLAGS.heatmap_sigma, heatmap_weight=FLAGS.heatmap_weight,
                         integral_weight=FLAGS.integral_weight, foreground_weight=FLAGS.foreground_weight,
                         clor_weight=FLAGS.clor_weight,
                         offset_weight=FLAGS.offset_weight, flow_weight=FLAGS.flow_weight,
                         smoothness_weight=FLAGS.smoothness_weight, ssim_weight=FLAGS.ssim_weight,
                         sic_weight=FLAGS.sic_weight,
                         mfds_weight=FLAGS.mfds_weight, pseudo_weight=FLAGS.pseudo_weight)


def optimizer(steps_per_epoch):
  """Adam (AdamW with --weight_decay) under --lr_schedule.

  step: the learning rate x0.1 at each of --lr_decay_epochs (paper: 1.25e-4, epochs 90 and 120).
  cosine: lr(t) = peak * t / warmup for t < warmup, then peak * (1 + cos(pi (t - warmup) / (T - warmup))) / 2,
  T = epochs * steps_per_epoch.
  """
  import keras
  if FLAGS.lr_schedule == "cosine":
    total = FLAGS.epochs * steps_per_epoch
    warmup = min(FLAGS.warmup_steps, total - 1)
    schedule = keras.optimizers.schedules.CosineDecay(0.0, total - warmup, alpha=0.0, warmup_target=FLAGS.learning_rate,
                                                      warmup_steps=warmup)
  else:
    boundaries = [int(e) * steps_per_epoch for e in FLAGS.lr_decay_epochs]
    values = [FLAGS.learning_rate * 0.1 ** i for i in range(len(boundaries) + 1)]
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values) if boundaries else values[0]
  if FLAGS.weight_decay > 0:
    return keras.optimizers.AdamW(schedule, weight_decay=FLAGS.weight_decay)
  return keras.optimizers.Adam(schedule)


def _stack(source, count, key_image, key_points):
  examples = [source.example(i, 0) for i in range(count)]
  return np.stack([e[key_image] for e in examples]), np.stack([e[key_points] for e in examples])


def _load_folder(folder):
  report = formats.LoadReport()
  samples = formats.load_pts_folder(folder, skip_bad=FLAGS.skip_bad, report=report)
  if report.skipped:
    logging.warning("%s: %s", folder, report)
  if not samples:
    raise ValueError(f"{folder}: no labeled faces (.pts next to images) found")
  return samples


def _load_folders(folders, flag):
  """The faces of every folder of a list flag, in order."""
  if not folders:
    raise ValueError(f"--{flag} is required for --data={FLAGS.data}")
  return [sample for folder in folders for sample in _load_folder(folder)]


def _videos_from_list(list_path):
  """Group an SBR list's frames into videos by folder, in file order."""
  videos = collections.OrderedDict()
  for sample in formats.read_list_file(list_path, skip_bad=FLAGS.skip_bad):
    videos.setdefault(os.path.dirname(sample.image_path), []).append(sample)
  return videos


def build_data():
  """Training source, validation arrays and landmark scheme for the flags' --data choice.

  The scheme (`.scheme`, with its point count: 68 for iBUG, 19 for AFLW) sizes the network.
  """
  size, k = FLAGS.input_size, FLAGS.clip_length
  train_augment = augment.TRAIN_AUGMENT if FLAGS.augment else augment.NO_AUGMENT
  if FLAGS.data == "synthetic":
    scheme = schemes.IBUG68
    train = sources.SyntheticClipSource(FLAGS.train_count, size, k)
  elif FLAGS.data == "300w_clips":
    samples = _load_folders(FLAGS.train_dir, "train_dir")
    scheme = sources.scheme_of(samples)
    train = sources.StillClipSource(sources.check_scheme(samples, scheme), size, k, scheme, train_augment)
  elif FLAGS.data == "300vw":
    if not FLAGS.train_dir or len(FLAGS.train_dir) != 1:
      raise ValueError("--data=300vw takes one --train_dir (the 300VW root)")
    videos = formats.load_300vw(FLAGS.train_dir[0], skip_bad=FLAGS.skip_bad)
    scheme = schemes.IBUG68
    train = sources.VideoClipSource(videos, size, k, scheme, train_augment, FLAGS.label_stride,
                                    FLAGS.frame_step)
  else:
    videos = _videos_from_list(FLAGS.train_list)
    scheme = sources.scheme_of([s for v in videos.values() for s in v])
    train = sources.VideoClipSource(videos, size, k, scheme, train_augment, FLAGS.label_stride, FLAGS.frame_step)
  if len(train) == 0:
    raise ValueError(f"no training clips from --data={FLAGS.data} (clip_length {k}, label_stride "
                     f"{FLAGS.label_stride}): check the data paths")

  val_k = max(k, 2)  # validation tracks through clips of at least two frames, also for single-frame training
  if FLAGS.val_dir:
    samples = _load_folders(FLAGS.val_dir, "val_dir")
    samples = sources.check_scheme(samples[:FLAGS.val_count] if FLAGS.val_count else samples, scheme)
    subsets = [os.path.basename(os.path.dirname(s.image_path)) for s in samples]
    images, landmarks = _stack(sources.ImageSource(samples, size, scheme), len(samples), "image", "landmarks")
    clip_source = sources.StillClipSource(samples, size, val_k, scheme)
  else:
    clip_source = sources.SyntheticClipSource(FLAGS.val_count, size, val_k)
    clip_source.rng = lambda index, seed: np.random.default_rng([10**6, index])  # disjoint from training
    frames, tracks = _stack(clip_source, FLAGS.val_count, "frames", "landmarks")
    images, landmarks = frames[:, 0], tracks[:, 0]
    subsets = None
  count = min(FLAGS.val_clip_count, len(clip_source))
  clip_frames, clip_landmarks = _stack(clip_source, count, "frames", "landmarks") if count else (None, None)
  return types.SimpleNamespace(train=train, scheme=scheme, val_images=images, val_landmarks=landmarks,
                               val_subsets=subsets, val_clip_frames=clip_frames, val_clip_landmarks=clip_landmarks)
