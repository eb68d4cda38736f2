"""Sample sources in NumPy/OpenCV (no TensorFlow): each maps (index, seed) -> one training example.

A source is deterministic given (index, seed), so tf.data (TF path) and keras.utils.PyDataset (JAX path)
produce the same examples. Every example is a dict of NumPy arrays:
  clips:  frames uint8 [K, S, S, 3], landmarks float32 [K, N, 2] (crop pixels, NaN where not annotated),
          labeled bool [K] (frame 0 only: the label a trainer may use; the rest is for evaluation).
  images: image uint8 [S, S, 3], landmarks float32 [N, 2], matrix float32 [2, 3] + flipped bool (the crop
          transform, to map predictions back to the source image).
"""

import functools
import os

import cv2
import numpy as np

from tsal_tf.data import augment
from tsal_tf.data import clips
from tsal_tf.data import formats
from tsal_tf.data import schemes
from tsal_tf.data import synthetic


class Source:
  """Base class: `len(source)` examples; `example(index, seed)` -> dict of arrays; `name(index)` says which."""

  def __len__(self):
    raise NotImplementedError

  def example(self, index, seed=0):
    raise NotImplementedError

  def name(self, index):
    """What example `index` is made from, for a person (e.g. <run_dir>/labeled.txt)."""
    return f"clip {index}"

  def rng(self, index, seed):
    return np.random.default_rng([seed, index])


@functools.lru_cache(maxsize=4096)
def _cached_image(path):
  return formats.read_image(path)


def _clip_dict(clip):
  return {"frames": clip.frames, "landmarks": clip.landmarks.astype(np.float32), "labeled": clip.labeled}


class ImageSource(Source):
  """Single labeled faces (300W / AFLW crops or originals), cropped and augmented."""

  def __init__(self, samples, size, scheme, augment_config=augment.NO_AUGMENT):
    self.samples, self.size, self.scheme, self.augment_config = list(samples), size, scheme, augment_config

  def __len__(self):
    return len(self.samples)

  def name(self, index):
    return self.samples[index].image_path

  def example(self, index, seed=0):
    sample = self.samples[index]
    image, landmarks, transform = augment.augment_face(
        _cached_image(sample.image_path), sample.landmarks, self.rng(index, seed), self.size,
        self.augment_config, self.scheme, sample.box)
    return {"image": image, "landmarks": landmarks, "matrix": transform.matrix.astype(np.float32),
            "flipped": np.bool_(transform.flipped)}


class StillClipSource(Source):
  """Labeled stills turned into K-frame clips (see clips.still_to_clip)."""

  def __init__(self, samples, size, num_frames, scheme, augment_config=augment.NO_AUGMENT,
               motion=clips.MotionConfig()):
    self.samples, self.size, self.num_frames = list(samples), size, num_frames
    self.scheme, self.augment_config, self.motion = scheme, augment_config, motion

  def __len__(self):
    return len(self.samples)

  def name(self, index):
    return self.samples[index].image_path

  def example(self, index, seed=0):
    sample = self.samples[index]
    clip = clips.still_to_clip(_cached_image(sample.image_path), sample.landmarks, self.rng(index, seed),
                               self.num_frames, self.size, self.scheme, self.augment_config, self.motion,
                               sample.box)
    return _clip_dict(clip)


class SyntheticClipSource(Source):
  """Procedural synthetic face videos (see data.synthetic): the built-in demo data."""

  def __init__(self, count, size, num_frames, motion_scale=0.15, occluder_prob=0.3):
    self.count, self.size, self.num_frames = count, size, num_frames
    self.motion_scale, self.occluder_prob = motion_scale, occluder_prob

  def __len__(self):
    return self.count

  def example(self, index, seed=0):
    return _clip_dict(synthetic.synthetic_clip(self.rng(index, seed), self.num_frames, self.size,
                                               self.motion_scale, self.occluder_prob))


def read_frame(sample):
  """The frame of a FaceSample: an image file, or frame `frame_index` of a video file."""
  if sample.frame_index is None or not sample.image_path.lower().endswith((".avi", ".mp4", ".mov", ".mkv")):
    return _cached_image(sample.image_path)
  capture = cv2.VideoCapture(sample.image_path)
  try:
    capture.set(cv2.CAP_PROP_POS_FRAMES, sample.frame_index)
    ok, frame = capture.read()
  finally:
    capture.release()
  if not ok:
    raise formats.ImageReadError(f"{sample.image_path}: cannot read frame {sample.frame_index}")
  return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def frame_number(sample):
  """A video frame's number: its frame_index, else the digits of its image's file name, else None."""
  if sample.frame_index is not None:
    return sample.frame_index
  stem = os.path.splitext(os.path.basename(sample.image_path))[0]
  return int(stem) if stem.isdigit() else None


def _evenly_spaced(frames, step):
  """False where the frames' numbers are known and not `step` apart (a list that skipped a frame)."""
  numbers = [frame_number(f) for f in frames]
  return None in numbers or all(b - a == step for a, b in zip(numbers, numbers[1:]))


class VideoClipSource(Source):
  """K-frame clips from real videos (300VW layout or SBR lists), starting at labeled frames (or any frame).

  Args:
    videos: {video_id: [FaceSample ordered by frame]}; landmarks None where unlabeled.
    size, num_frames, scheme, augment_config: as for StillClipSource.
    label_stride: only frames whose position in the video is a multiple of it count as labeled
      (paper: 10); other annotations are kept as evaluation ground truth only.
    frame_step: spacing between the clip's frames (1 = consecutive frames).
    start_on: "labeled": clips start at the labeled frames; "boxed": at every label_stride-th frame with a
      face box (unlabeled videos, e.g. `prepare` output, which leaves out frames without a box: a start whose
      clip would jump over a missing frame is skipped).
  """

  def __init__(self, videos, size, num_frames, scheme, augment_config=augment.NO_AUGMENT,
               label_stride=10, frame_step=1, start_on="labeled"):
    self.videos, self.size, self.num_frames, self.scheme = videos, size, num_frames, scheme
    self.augment_config, self.frame_step = augment_config, frame_step
    span = (num_frames - 1) * frame_step
    if start_on == "labeled":
      usable = lambda frames, i: frames[i].labeled
    elif start_on == "boxed":
      usable = lambda frames, i: (frames[i].box is not None
                                  and _evenly_spaced(frames[i:i + span + 1:frame_step], frame_step))
    else:
      raise ValueError(f"start_on={start_on!r}: not 'labeled' or 'boxed'")
    self.starts = [(vid, i) for vid, frames in sorted(videos.items())
                   for i in range(0, len(frames) - span, label_stride) if usable(frames, i)]

  def __len__(self):
    return len(self.starts)

  def name(self, index):
    video_id, start = self.starts[index]
    return f"{video_id}:{start}"

  def example(self, index, seed=0):
    video_id, start = self.starts[index]
    frames = self.videos[video_id][start:start + self.num_frames * self.frame_step:self.frame_step]
    clip = clips.video_clip([read_frame(f) for f in frames], [f.landmarks for f in frames],
                            self.rng(index, seed), self.size, self.scheme, self.augment_config, frames[0].box)
    return _clip_dict(clip)


def choose_labeled(count, fraction, seed):
  """A seeded choice of round(fraction * count) (at least 1) of `count` examples: bool mask [count].

  The choice depends on (count, fraction, seed) only, so every row of a study that passes the same
  --label_fraction and --label_seed labels the same faces.
  """
  if not 0.0 < fraction <= 1.0:
    raise ValueError(f"label fraction {fraction} is not in (0, 1]")
  mask = np.zeros(count, bool)
  mask[np.random.default_rng([seed, count]).permutation(count)[:max(1, round(fraction * count))]] = True
  return mask


class PartiallyLabeledSource(Source):
  """A clip source where only the examples of `labeled` [len(source)] keep their frame-0 label.

  An unlabeled example still yields its clip (and its ground truth, for evaluation only); its `labeled` flag is
  False for every frame, so a trainer uses it through the unsupervised and pseudo-label terms alone.
  """

  def __init__(self, source, labeled):
    if len(labeled) != len(source):
      raise ValueError(f"label mask of {len(labeled)} for a source of {len(source)} examples")
    self.source, self.labeled = source, np.asarray(labeled, bool)

  def __len__(self):
    return len(self.source)

  def name(self, index):
    return self.source.name(index)

  def example(self, index, seed=0):
    example = self.source.example(index, seed)
    if not self.labeled[index]:
      example["labeled"] = np.zeros_like(example["labeled"])
    return example


class RepeatedSource(Source):
  """Every example i of a source `repeats[i]` times (semi-supervised batches: labeled clips oversampled).

  Copy c of example i draws its augmentation with seed `seed * max(repeats) + c`, so the copies of one data
  epoch are different augmentations of the same clip, and no two (seed, copy) pairs share a draw.
  """

  def __init__(self, source, repeats):
    repeats = np.asarray(repeats, int)
    if len(repeats) != len(source) or (repeats < 1).any():
      raise ValueError(f"repeats must be {len(source)} counts of at least 1, got {len(repeats)} "
                       f"with minimum {repeats.min() if len(repeats) else None}")
    self.source, self.max_repeats = source, int(repeats.max())
    self.indices = np.repeat(np.arange(len(source)), repeats)
    self.copies = np.concatenate([np.arange(r) for r in repeats])

  def __len__(self):
    return len(self.indices)

  def name(self, index):
    return self.source.name(int(self.indices[index]))

  def example(self, index, seed=0):
    return self.source.example(int(self.indices[index]), seed * self.max_repeats + int(self.copies[index]))


def labeled_share_repeats(labeled, share):
  """Repeats [len(labeled)] that make the labeled examples about `share` of a stream: each labeled example
  r = round(share / (1 - share) * unlabeled / labeled) times (at least 1), each unlabeled one once.

  With every example labeled, or none, every repeat is 1.
  """
  labeled = np.asarray(labeled, bool)
  if not 0.0 < share < 1.0:
    raise ValueError(f"labeled share {share} is not in (0, 1)")
  count, others = int(labeled.sum()), int((~labeled).sum())
  if count == 0 or others == 0:
    return np.ones(len(labeled), int)
  return np.where(labeled, max(1, round(share / (1.0 - share) * others / count)), 1)


class ConcatSource(Source):
  """The examples of several sources, one after the other."""

  def __init__(self, parts):
    self.parts = list(parts)
    self.ends = np.cumsum([len(part) for part in self.parts])

  def __len__(self):
    return int(self.ends[-1]) if len(self.ends) else 0

  def _locate(self, index):
    """(part, index within that part) of example `index`."""
    part = int(np.searchsorted(self.ends, index, side="right"))
    return self.parts[part], index - (int(self.ends[part - 1]) if part else 0)

  def name(self, index):
    part, within = self._locate(index)
    return part.name(within)

  def example(self, index, seed=0):
    part, within = self._locate(index)
    return part.example(within, seed)


class SubsetSource(Source):
  """The examples `indices` of a source, in that order."""

  def __init__(self, source, indices):
    self.source, self.indices = source, [int(i) for i in indices]

  def __len__(self):
    return len(self.indices)

  def name(self, index):
    return self.source.name(self.indices[index])

  def example(self, index, seed=0):
    return self.source.example(self.indices[index], seed)


def check_scheme(samples, scheme):
  """Raise ValueError naming the first sample whose landmark count differs from the scheme's."""
  for sample in samples:
    if sample.labeled and len(sample.landmarks) != scheme.num_points:
      raise ValueError(f"{sample.image_path}: {len(sample.landmarks)} landmarks, scheme {scheme.name} "
                       f"has {scheme.num_points}")
  return samples


def scheme_of(samples):
  """The landmark scheme of the first labeled sample."""
  first = next((s for s in samples if s.labeled), None)
  if first is None:
    raise ValueError("no labeled sample to infer the landmark scheme from")
  return schemes.scheme_for(len(first.landmarks))


def network_crops(samples, network_config, scheme=None):
  """ImageSource of the faces of `samples` as a network sees them: un-augmented crops of its input_size around
  each face box at its crop_margin (model.config.NetworkConfig); scheme: default that of the samples."""
  return ImageSource(samples, network_config.input_size, scheme or scheme_of(samples),
                     augment.AugmentConfig(crop_margin=network_config.crop_margin))
