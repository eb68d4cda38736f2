"""Clips of K frames where only frame 0 carries its label (paper 3.2: {I_0^l, I_1^u, ..., I_{K-1}^u}).

Two sources, one output format (`Clip`):
  * `still_to_clip`: a labeled still image becomes a smooth, temporally coherent clip. Frame k is the source
    image seen through a similarity transform that drifts smoothly with k (constant velocity plus a little
    acceleration), a mild low-frequency non-rigid warp d_k, a brightness drift and an optional moving
    occluder. Crop pixel u of frame k samples the source at ``M_k^{-1}(u + d_k(u))`` (one `cv2.remap`, a
    plain `cv2.warpAffine` where d_k = 0), so a source landmark p lands where ``u + d_k(u) = M_k p``; we solve
    that by fixed-point iteration (d is small and smooth: it converges to float precision in a few steps).
  * `video_clip`: K real consecutive frames (300VW layout or a frame list) cropped with one transform
    taken from the labeled first frame, so the motion in the clip is the real motion.

Ground truth of every frame is kept in `Clip.landmarks` for evaluation only; `Clip.labeled` marks the
frames a trainer may use as labels (frame 0).
"""

import dataclasses

import cv2
import numpy as np

from tsal_tf.data import augment
from tsal_tf.data import schemes


@dataclasses.dataclass
class Clip:
  """frames uint8 [K, S, S, 3]; landmarks float32 [K, N, 2] (crop pixels); labeled bool [K]; transform: the
  CropTransform from source to crop pixels of a clip cut from a real video (None for synthesized motion)."""
  frames: np.ndarray
  landmarks: np.ndarray
  labeled: np.ndarray
  transform: augment.CropTransform = None


@dataclasses.dataclass(frozen=True)
class MotionConfig:
  """Per-frame motion of a synthesized clip (per step between consecutive frames unless stated).

  Attributes:
    rotation_deg: std of the angular velocity in degrees per frame.
    zoom: std of the zoom velocity (relative) per frame.
    shift: std of the translation velocity, as a fraction of the crop side, per frame.
    warp: amplitude of the non-rigid warp in crop pixels at the last frame (0 = rigid).
    brightness: std of the brightness drift per frame (relative).
    occluder_prob: probability that a moving occluder crosses the clip.
  """
  rotation_deg: float = 1.5
  zoom: float = 0.01
  shift: float = 0.01
  warp: float = 1.5
  brightness: float = 0.02
  occluder_prob: float = 0.3

  def scaled(self, factor):
    """The same motion `factor` times as large: rotation, zoom, shift and warp scaled (brightness and the
    occluder kept)."""
    return dataclasses.replace(self, rotation_deg=factor * self.rotation_deg, zoom=factor * self.zoom,
                               shift=factor * self.shift, warp=factor * self.warp)


def _smooth_field(rng, size, amplitude, cells=3):
  """A smooth random displacement field [S, S, 2] (bicubic upsampling of a cells x cells grid)."""
  coarse = rng.normal(0.0, amplitude, size=(cells, cells, 2)).astype(np.float32)
  return cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)


def _bilinear(field, points):
  """Sample a field [S, S, 2] at points [N, 2] (x, y), coordinates clamped to the grid."""
  size = field.shape[0]
  x = np.clip(points[:, 0], 0, size - 1)
  y = np.clip(points[:, 1], 0, size - 1)
  x0 = np.minimum(np.floor(x).astype(int), size - 2)
  y0 = np.minimum(np.floor(y).astype(int), size - 2)
  fx = (x - x0)[:, None]
  fy = (y - y0)[:, None]
  return ((1 - fy) * ((1 - fx) * field[y0, x0] + fx * field[y0, x0 + 1])
          + fy * ((1 - fx) * field[y0 + 1, x0] + fx * field[y0 + 1, x0 + 1]))


def invert_displacement(field, targets, iterations=30, tolerance=1e-9):
  """Solve u + d(u) = targets for u, with d the field [S, S, 2] (fixed point u <- targets - d(u), until no
  point moves by more than `tolerance` pixels or after `iterations` steps)."""
  u = np.array(targets, np.float64)
  for _ in range(iterations):
    previous, u = u, targets - _bilinear(field, u)
    if np.all(np.abs(u - previous) <= tolerance):
      break
  return u


def _warp_displaced(image, matrix, displacement):
  """Crop pixel u of the [S, S, 3] result samples `image` at M^{-1}(u + d(u)), d the field [S, S, 2]
  (bilinear, constant black border)."""
  size = displacement.shape[0]
  grid = np.stack(np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32)), -1)
  source = cv2.transform(grid + displacement, augment.invert_affine(matrix))
  return cv2.remap(image, source[..., 0], source[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                   borderValue=(0, 0, 0))


def _scale_levels(frame, gain):
  """uint8 frame * gain, clipped to [0, 255] and truncated, through a 256-entry lookup table."""
  if gain == 1.0:
    return frame
  return cv2.LUT(frame, np.clip(np.arange(256, dtype=np.float32) * gain, 0, 255).astype(np.uint8))


def draw_occluder(frame, centre, radii, colour):
  cv2.ellipse(frame, (int(centre[0] * 16), int(centre[1] * 16)), (int(radii[0] * 16), int(radii[1] * 16)),
              0, 0, 360, colour, -1, cv2.LINE_AA, 4)


def still_to_clip(image, landmarks, rng, num_frames, size, scheme, augment_config=augment.NO_AUGMENT,
                  motion=MotionConfig(), box=None):
  """Turn one labeled still into a synthetic clip.

  Args:
    image: uint8 [H, W, 3] source image.
    landmarks: [N, 2] source landmarks (0-based).
    rng: np.random.Generator.
    num_frames: K.
    size: crop side S.
    scheme: LandmarkScheme (for the flip permutation).
    augment_config: augmentation of frame 0 (the whole clip shares its flip, colour jitter, blur and noise
      level; each frame draws its own noise).
    motion: MotionConfig.
    box: optional face box; default the landmark box.

  Returns:
    Clip with frames [K, S, S, 3], landmarks [K, N, 2] and labeled = [True, False, ...].
  """
  box = augment.source_box(landmarks, box)
  base = augment.random_transform(rng, box, size, augment_config)
  centre = np.array([(size - 1) / 2.0] * 2)
  velocity = np.array([rng.normal(0, motion.rotation_deg), rng.normal(0, motion.zoom),
                       *rng.normal(0, motion.shift * size, size=2)])
  acceleration = 0.15 * velocity * rng.normal(size=4)
  field = _smooth_field(rng, size, motion.warp) if motion.warp else None
  gains = 1.0 + np.cumsum(np.r_[0.0, rng.normal(0, motion.brightness, num_frames - 1)])
  occluder = None
  if rng.uniform() < motion.occluder_prob:
    start, end = rng.uniform(0, size, size=(2, 2))
    occluder = (start, end, rng.uniform(0.08, 0.2, size=2) * size, tuple(int(c) for c in rng.integers(0, 256, 3)))
  colour_seed = rng.integers(1 << 31)
  frames, tracks = [], []
  for k in range(num_frames):
    angle, zoom, dx, dy = velocity * k + 0.5 * acceleration * k * k
    # Frame motion about the crop centre, composed after the base crop: M_k = A_k o M_base.
    step = augment.similarity_matrix(centre, size, size, angle_deg=angle, zoom=1.0 + zoom,
                                     shift=(dx / size, dy / size))
    matrix = np.vstack([step, [0, 0, 1]]) @ np.vstack([base.matrix, [0, 0, 1]])
    matrix = matrix[:2]
    points = augment.apply_affine(landmarks, matrix)
    if field is not None and k:
      displacement = field * (k / max(num_frames - 1, 1))
      frame = _warp_displaced(image, matrix, displacement)
      points = invert_displacement(displacement, points)
    else:  # d_k = 0 (frame 0, or a rigid clip): the plain affine crop
      frame = augment.warp_affine(image, matrix, size)
    frame = _scale_levels(frame, gains[k])
    if occluder is not None:
      start, end, radii, colour = occluder
      draw_occluder(frame, start + (end - start) * k / max(num_frames - 1, 1), radii, colour)
    if base.flipped:
      frame = frame[:, ::-1].copy()
      points = (schemes.flip_landmarks(points, size, scheme)
                + augment.flip_offset(matrix, box, augment_config.label_x_offset))
    frame = augment.photometric(frame, np.random.default_rng(colour_seed), augment_config,
                                np.random.default_rng([colour_seed, k]))
    frames.append(frame)
    tracks.append(points)
  labeled = np.zeros(num_frames, bool)
  labeled[0] = True
  return Clip(np.stack(frames), np.stack(tracks).astype(np.float32), labeled)


def video_clip(images, landmarks, rng, size, scheme, augment_config=augment.NO_AUGMENT, box=None):
  """Crop K real consecutive frames with one transform taken from frame 0's face box.

  Args:
    images: list of K uint8 [H, W, 3] frames.
    landmarks: list of K [N, 2] arrays (ground truth kept for evaluation) or None where not annotated;
      landmarks[0] (or `box`) must be given.
    rng, size, scheme, augment_config: as in `still_to_clip`.
    box: optional face box of frame 0.

  Returns:
    Clip with its transform; `landmarks` holds NaN for frames without annotation; labeled = [True, False, ...].
  """
  transform = augment.random_transform(rng, augment.source_box(landmarks[0], box), size, augment_config)
  colour_seed = rng.integers(1 << 31)
  frames, tracks = [], []
  for k, (image, points) in enumerate(zip(images, landmarks)):
    frames.append(augment.photometric(augment.warp_image(image, transform), np.random.default_rng(colour_seed),
                                      augment_config, np.random.default_rng([colour_seed, k])))
    tracks.append(augment.source_to_crop(points, transform, scheme) if points is not None
                  else np.full((scheme.num_points, 2), np.nan, np.float32))
  labeled = np.zeros(len(images), bool)
  labeled[0] = landmarks[0] is not None
  return Clip(np.stack(frames), np.stack(tracks), labeled, transform)
