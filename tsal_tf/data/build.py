"""An experiment's data from a `DataConfig`: the training source, the validation arrays and the scheme."""

import collections
import dataclasses
import os
import types

import numpy as np
from absl import logging

from tsal_tf.data import augment
from tsal_tf.data import clips
from tsal_tf.data import formats
from tsal_tf.data import schemes
from tsal_tf.data import sources

DATA_KINDS = ("synthetic", "300w_clips", "300vw", "list")


_TRAIN_AUGMENT = augment.TRAIN_AUGMENT  # DataConfig's field `augment` hides the module in its body


@dataclasses.dataclass(frozen=True)
class DataConfig:
  """What to train and validate on (flags of the same names in tsal_tf.flag_defs).

  Attributes:
    data: one of DATA_KINDS: built-in synthetic face videos, labeled stills (300W .pts folders) turned into
      clips, 300VW video folders, or an SBR list file.
    train_dirs: .pts folders (300w_clips) or the one 300VW root (300vw).
    train_list: SBR list file (list).
    val_dirs: 300W-style .pts folders for validation (empty: synthetic faces).
    train_count, val_count: synthetic training clips; validation faces (synthetic, or at most this many of
      val_dirs; 0 = all).
    val_clip_count: validation clips for the tracking NME.
    input_size, clip_length: crop side S and frames per clip K.
    label_stride, frame_step: one labeled frame in this many, and the frame spacing (real videos).
    augment: flip / rotation / scale / translation / colour (and optional blur and noise) augmentation of the
      training clips.
    augment_rotation, augment_scale, augment_shift: its geometric ranges, augment.AugmentConfig's rotation_deg,
      scale and shift (the defaults are TRAIN_AUGMENT's).
    augment_blur, augment_noise: its loss of image quality, augment.AugmentConfig's blur and noise.
    occluder_prob: probability that a moving occluder crosses a clip made from a labeled still.
    still_motion: scale of the synthetic motion between the frames of a training clip made from a still
      (300w_clips; clips.MotionConfig.scaled: its rotation, zoom and shift velocities and its non-rigid warp).
    label_x_offset: how far right of the point it marks an annotation sits, as a fraction of the face-box side;
      flips keep it (augment.AugmentConfig).
    crop_margin: crop side / face-box side of the training and validation crops (augment.AugmentConfig).
    skip_bad: skip malformed annotations (reported) instead of stopping.
    unlabeled_lists: SBR list files of unlabeled videos (`prepare` output): clips start at every frame with
      a face box and none is labeled, whatever annotations the lists carry; mixed with the training clips.
    label_fraction, label_seed: keep the frame-0 labels of a seeded fraction of the training clips only
      (sources.choose_labeled); the other clips train through the unsupervised and pseudo-label terms. With
      single frames (clip_length 1) nothing can be learned from an unlabeled clip, so those are left out.
    labeled_share: when some training clips are unlabeled (label_fraction, unlabeled_lists), repeat each
      labeled clip so that labeled clips make about this share of the training stream (0 = every clip once):
      semi-supervised batches with a steady labeled part, as FixMatch and Unbiased Teacher sample theirs.
  """
  data: str = "synthetic"
  train_dirs: tuple = ()
  train_list: str = None
  val_dirs: tuple = ()
  train_count: int = 2000
  val_count: int = 64
  val_clip_count: int = 32
  input_size: int = 64
  clip_length: int = 3
  label_stride: int = 10
  frame_step: int = 1
  augment: bool = True
  augment_rotation: float = _TRAIN_AUGMENT.rotation_deg
  augment_scale: float = _TRAIN_AUGMENT.scale
  augment_shift: float = _TRAIN_AUGMENT.shift
  augment_blur: float = _TRAIN_AUGMENT.blur
  augment_noise: float = _TRAIN_AUGMENT.noise
  occluder_prob: float = 0.3
  still_motion: float = 1.0
  label_x_offset: float = 0.0
  crop_margin: float = _TRAIN_AUGMENT.crop_margin
  skip_bad: bool = False
  unlabeled_lists: tuple = ()
  label_fraction: float = 1.0
  label_seed: int = 0
  labeled_share: float = 0.0


def _stack(source, count, key_image, key_points):
  examples = [source.example(i, 0) for i in range(count)]
  return np.stack([e[key_image] for e in examples]), np.stack([e[key_points] for e in examples])


def _load_folder(folder, skip_bad):
  report = formats.LoadReport()
  samples = formats.load_pts_folder(folder, skip_bad=skip_bad, report=report)
  if report.skipped:
    logging.warning("%s: %s", folder, report)
  if not samples:
    raise ValueError(f"{folder}: no labeled faces (.pts next to images) found")
  return samples


def _load_folders(folders, name, config):
  """The faces of every folder of a list, in order."""
  if not folders:
    raise ValueError(f"--{name} is required for --data={config.data}")
  return [sample for folder in folders for sample in _load_folder(folder, config.skip_bad)]


def _videos_from_list(list_path, skip_bad):
  """Group an SBR list's frames into videos by folder, in file order."""
  videos = collections.OrderedDict()
  for sample in formats.read_list_file(list_path, skip_bad=skip_bad):
    videos.setdefault(os.path.dirname(sample.image_path), []).append(sample)
  return videos


def _train_augment(config):
  if not config.augment:
    return augment.AugmentConfig(crop_margin=config.crop_margin, label_x_offset=config.label_x_offset)
  return dataclasses.replace(augment.TRAIN_AUGMENT, crop_margin=config.crop_margin,
                             rotation_deg=config.augment_rotation, scale=config.augment_scale,
                             shift=config.augment_shift, blur=config.augment_blur, noise=config.augment_noise,
                             label_x_offset=config.label_x_offset)


def _training_source(config):
  """(training source, scheme) of config.data."""
  size, k = config.input_size, config.clip_length
  train_augment = _train_augment(config)
  if config.still_motion != 1.0 and config.data != "300w_clips":
    raise ValueError(f"--still_motion scales the motion of clips made from stills: it needs --data=300w_clips, "
                     f"not {config.data}")
  if config.data == "synthetic":
    return sources.SyntheticClipSource(config.train_count, size, k), schemes.IBUG68
  if config.data == "300w_clips":
    samples = _load_folders(config.train_dirs, "train_dir", config)
    scheme = sources.scheme_of(samples)
    motion = clips.MotionConfig(occluder_prob=config.occluder_prob).scaled(config.still_motion)
    return sources.StillClipSource(sources.check_scheme(samples, scheme), size, k, scheme, train_augment,
                                   motion), scheme
  if config.data == "300vw":
    if len(config.train_dirs) != 1:
      raise ValueError("--data=300vw takes one --train_dir (the 300VW root)")
    videos = formats.load_300vw(config.train_dirs[0], skip_bad=config.skip_bad)
    scheme = schemes.IBUG68
  elif config.data == "list":
    if not config.train_list:
      raise ValueError("--train_list is required for --data=list")
    videos = _videos_from_list(config.train_list, config.skip_bad)
    scheme = sources.scheme_of([s for v in videos.values() for s in v])
  else:
    raise ValueError(f"--data={config.data}: not one of {', '.join(DATA_KINDS)}")
  return sources.VideoClipSource(videos, size, k, scheme, train_augment, config.label_stride,
                                 config.frame_step), scheme


def _partially_labeled(train, config):
  """(source, names of the labeled examples, labeled mask of the source's examples) under config.label_fraction."""
  names = [train.name(i) for i in range(len(train))]
  if config.label_fraction >= 1.0:
    return train, names, np.ones(len(train), bool)
  labeled = sources.choose_labeled(len(train), config.label_fraction, config.label_seed)
  names = [name for name, keep in zip(names, labeled) if keep]
  if config.clip_length == 1:
    return sources.SubsetSource(train, np.flatnonzero(labeled)), names, np.ones(len(names), bool)
  return sources.PartiallyLabeledSource(train, labeled), names, labeled


def _with_labeled_share(train, labeled, config):
  """The training source with its labeled clips repeated to config.labeled_share of the stream."""
  if not config.labeled_share:
    return train
  if config.data not in ("synthetic", "300w_clips"):
    raise ValueError(f"--labeled_share needs training clips made from stills (--data=300w_clips or synthetic), "
                     f"not --data={config.data}, whose clips' labels depend on their start frame")
  repeats = sources.labeled_share_repeats(labeled, config.labeled_share)
  return train if (repeats == 1).all() else sources.RepeatedSource(train, repeats)


def _unlabeled_videos(config, scheme):
  """Clips of the videos of config.unlabeled_lists, one starting at every frame with a face box; the lists'
  annotations are dropped (neither label nor crop box comes from them)."""
  if config.clip_length == 1:
    raise ValueError("--unlabeled_list needs clips (--clip_length >= 2): a single unlabeled frame trains nothing")
  videos = {}
  for path in config.unlabeled_lists:
    for video, frames in _videos_from_list(path, config.skip_bad).items():
      videos[f"{path}:{video}"] = [dataclasses.replace(frame, landmarks=None) for frame in frames]
  source = sources.VideoClipSource(videos, config.input_size, config.clip_length, scheme, _train_augment(config),
                                   label_stride=1, frame_step=config.frame_step, start_on="boxed")
  if len(source) == 0:
    raise ValueError(f"{', '.join(config.unlabeled_lists)}: no {config.clip_length} consecutive frames with a "
                     f"face box")
  return source


def build_data(config):
  """Training source, validation arrays and landmark scheme of a DataConfig.

  Returns a namespace: train (a sources.Source), labeled_names (the training examples that keep their
  label), partial_labels (some training clips have no frame-0 label: TeacherStudent's argument), scheme
  (its point count, 68 for iBUG or 19 for AFLW, sizes the network), val_images uint8 [M, S, S, 3] and
  val_landmarks [M, N, 2], val_subsets (folder of each face, or None), val_clip_frames [C, K', S, S, 3] and
  val_clip_landmarks [C, K', N, 2] (K' = max(K, 2), or None).
  """
  size, k = config.input_size, config.clip_length
  train, scheme = _training_source(config)
  if len(train) == 0:
    raise ValueError(f"no training clips from --data={config.data} (clip_length {k}, label_stride "
                     f"{config.label_stride}): check the data paths")
  train, labeled_names, labeled = _partially_labeled(train, config)
  if config.unlabeled_lists:
    videos = _unlabeled_videos(config, scheme)
    train, labeled = sources.ConcatSource([train, videos]), np.concatenate([labeled, np.zeros(len(videos), bool)])
  partial_labels = len(labeled_names) < len(train)
  train = _with_labeled_share(train, labeled, config)

  val_k = max(k, 2)  # validation tracks through clips of at least two frames, also for single-frame training
  if config.val_dirs:
    samples = _load_folders(config.val_dirs, "val_dir", config)
    samples = sources.check_scheme(samples[:config.val_count] if config.val_count else samples, scheme)
    subsets = [os.path.basename(os.path.dirname(s.image_path)) for s in samples]
    centre_crop = augment.AugmentConfig(crop_margin=config.crop_margin)
    images, landmarks = _stack(sources.ImageSource(samples, size, scheme, centre_crop), len(samples), "image",
                               "landmarks")
    clip_source = sources.StillClipSource(samples, size, val_k, scheme, centre_crop)
  else:
    clip_source = sources.SyntheticClipSource(config.val_count, size, val_k)
    clip_source.rng = lambda index, seed: np.random.default_rng([10**6, index])  # disjoint from training
    frames, tracks = _stack(clip_source, config.val_count, "frames", "landmarks")
    images, landmarks = frames[:, 0], tracks[:, 0]
    subsets = None
  count = min(config.val_clip_count, len(clip_source))
  clip_frames, clip_landmarks = _stack(clip_source, count, "frames", "landmarks") if count else (None, None)
  return types.SimpleNamespace(train=train, labeled_names=labeled_names,
                               partial_labels=partial_labels, scheme=scheme, val_images=images,
                               val_landmarks=landmarks, val_subsets=subsets, val_clip_frames=clip_frames,
                               val_clip_landmarks=clip_landmarks)
