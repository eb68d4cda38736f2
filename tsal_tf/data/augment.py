"""Face cropping and augmentation in NumPy/OpenCV with exact landmark bookkeeping.

Every geometric change is one 2x3 affine matrix M on 0-based pixel-centre coordinates (the convention of
`cv2.warpAffine`), followed by an optional horizontal flip of the crop. So a landmark p of the source
image lands at ``u = M @ [p, 1]`` in the crop, then ``u_x -> (S - 1) - u_x`` with the scheme's left/right
permutation when flipped; `crop_to_source` inverts both (the round trip is exact up to float error).
"""

import dataclasses

import cv2
import numpy as np

from tsal_tf.data import schemes


CROP_MARGIN = 1.35  # crop side / face-box side, unless a network says otherwise (NetworkConfig.crop_margin)


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
  """Random augmentation ranges (all zero/off gives a deterministic centre crop).

  Attributes:
    crop_margin: crop side = crop_margin * max(box_w, box_h) of the face box.
    rotation_deg: rotation uniformly in [-r, r] degrees.
    scale: crop zoom uniformly in [1 - scale, 1 + scale].
    shift: translation uniformly in [-shift, shift] * crop side, per axis.
    flip_prob: probability of a horizontal flip.
    colour: brightness / contrast / saturation jitter amplitude.
    blur: probability of a Gaussian blur (`degrade`).
    noise: additive Gaussian noise of standard deviation uniformly in [0, noise] grey levels (`degrade`).
    label_x_offset: how far right of the point it marks an annotation sits, as a fraction of the face-box side
      (a property of the data: annotations = content + (e, 0), e = label_x_offset * max(box_w, box_h)). A flip
      keeps that convention (see `flip_offset`), so a flipped crop is labeled like an unflipped one; 0 = the
      plain mirror.
  """
  crop_margin: float = CROP_MARGIN
  rotation_deg: float = 0.0
  scale: float = 0.0
  shift: float = 0.0
  flip_prob: float = 0.0
  colour: float = 0.0
  blur: float = 0.0
  noise: float = 0.0
  label_x_offset: float = 0.0


TRAIN_AUGMENT = AugmentConfig(rotation_deg=15.0, scale=0.1, shift=0.05, flip_prob=0.5, colour=0.25)
NO_AUGMENT = AugmentConfig()


@dataclasses.dataclass(frozen=True)
class CropTransform:
  """Source -> crop mapping: `matrix` [2, 3] then a horizontal flip of the `size` x `size` crop; the flip's
  landmark mirror adds `flip_offset` (crop pixels, `flip_offset`)."""
  matrix: np.ndarray
  size: int
  flipped: bool = False
  flip_offset: tuple = (0.0, 0.0)


def flip_offset(matrix, box, label_x_offset):
  """What a flip adds to the mirrored labels to keep the annotation offset e = label_x_offset * max(box_w, box_h).

  Annotations are p = c + (e, 0) for the true point c. Cropped with u = L p + t (L = matrix[:, :2]) they are
  u = (L c + t) + L (e, 0). The flipped crop is a crop of the mirrored image, whose linear map is P L P
  (P = diag(-1, 1)), so its labels must sit P L P (e, 0) from the mirrored content F(L c + t), F the mirror
  u -> ((S - 1) - u_x, u_y). With F(u) = F(L c + t) + P L (e, 0):
      label = F(u) + P L (P - I) (e, 0) = F(u) + (2 L_00 e, -2 L_10 e).
  Returns that offset, [2] crop pixels.
  """
  box = np.asarray(box, np.float64)
  e = label_x_offset * max(box[2] - box[0], box[3] - box[1], 1.0)
  return np.array([2.0 * matrix[0, 0] * e, -2.0 * matrix[1, 0] * e])


def centre_mirror_shift(size, label_x_offset, crop_margin=CROP_MARGIN):
  """x of `flip_offset` for every un-augmented crop (`centre_transform`: L = S / (m * box side) I for the crop
  margin m, so the offset is (2 S e' / m, 0) for e' = label_x_offset): what maps a model's predictions on a
  mirrored crop back (the flip test)."""
  return 2.0 * label_x_offset * size / crop_margin


def similarity_matrix(centre, side, size, angle_deg=0.0, zoom=1.0, shift=(0.0, 0.0)):
  """2x3 matrix: u = s R(angle) (x - centre) + (size - 1) / 2 + shift * size, s = zoom * size / side."""
  s = zoom * size / side
  a = np.deg2rad(angle_deg)
  rot = s * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
  offset = (size - 1) / 2.0 + np.asarray(shift, np.float64) * size - rot @ np.asarray(centre, np.float64)
  return np.concatenate([rot, offset[:, None]], axis=1)


def apply_affine(points, matrix):
  """points [..., 2] -> matrix[:, :2] @ p + matrix[:, 2]."""
  points = np.asarray(points, np.float64)
  return points @ matrix[:, :2].T + matrix[:, 2]


def invert_affine(matrix):
  return cv2.invertAffineTransform(np.asarray(matrix, np.float64))


def source_box(landmarks=None, box=None):
  """The face box (x1, y1, x2, y2): the given box, else the tight landmark box."""
  if box is not None:
    return np.asarray(box, np.float64)
  if landmarks is None:
    raise ValueError("need landmarks or a face box to crop a face")
  return schemes.landmark_box(np.asarray(landmarks, np.float64))


def centre_transform(box, size, crop_margin):
  """The un-augmented crop: a square of side crop_margin * max(w, h) centred on the box, resized to S."""
  box = np.asarray(box, np.float64)
  side = crop_margin * max(box[2] - box[0], box[3] - box[1], 1.0)
  return CropTransform(similarity_matrix(0.5 * (box[:2] + box[2:]), side, size), size, False)


def random_transform(rng, box, size, config):
  """Draw a CropTransform around `box` with the ranges of `config`."""
  box = np.asarray(box, np.float64)
  centre = 0.5 * (box[:2] + box[2:])
  side = config.crop_margin * max(box[2] - box[0], box[3] - box[1], 1.0)
  matrix = similarity_matrix(
      centre, side, size,
      angle_deg=rng.uniform(-config.rotation_deg, config.rotation_deg) if config.rotation_deg else 0.0,
      zoom=rng.uniform(1 - config.scale, 1 + config.scale) if config.scale else 1.0,
      shift=rng.uniform(-config.shift, config.shift, size=2) if config.shift else (0.0, 0.0))
  flipped = bool(config.flip_prob and rng.uniform() < config.flip_prob)
  offset = tuple(flip_offset(matrix, box, config.label_x_offset)) if flipped else (0.0, 0.0)
  return CropTransform(matrix, size, flipped, offset)


def warp_affine(image, matrix, size, border_value=0):
  """Crop pixel u of the [S, S, C] result samples `image` [H, W, C] uint8 at M^{-1} u (bilinear, constant
  border); no flip."""
  return cv2.warpAffine(image, np.asarray(matrix, np.float64), (size, size), flags=cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_CONSTANT, borderValue=(border_value,) * 3)


def warp_image(image, transform, border_value=0):
  """Crop `image` [H, W, C] uint8 with `transform` -> [S, S, C] (bilinear, constant border)."""
  crop = warp_affine(image, transform.matrix, transform.size, border_value)
  return crop[:, ::-1].copy() if transform.flipped else crop


def source_to_crop(landmarks, transform, scheme):
  """Source landmarks [..., N, 2] -> crop landmarks (flip and permutation included)."""
  points = apply_affine(landmarks, transform.matrix)
  if transform.flipped:
    points = schemes.flip_landmarks(points, transform.size, scheme) + transform.flip_offset
  return points.astype(np.float32)


def crop_to_source(points, transform, scheme):
  """Inverse of `source_to_crop`: crop landmarks [..., N, 2] -> source image coordinates."""
  points = np.asarray(points, np.float64)
  if transform.flipped:
    # The mirror (with the symmetric permutation) is an involution: remove the offset, then mirror again.
    points = schemes.flip_landmarks(points - np.asarray(transform.flip_offset), transform.size, scheme)
  return apply_affine(points, invert_affine(transform.matrix)).astype(np.float32)


def colour_jitter(image, rng, amplitude):
  """Random saturation s, contrast c and brightness b, each uniform in [1 - a, 1 + a], drawn in that order:

      y = b (m + c (g + s (x - g) - m)),   g = the pixel's channel mean, m = the image's mean,

  which is one affine colour map y = A x + o with A = b c (s I + (1 - s) J / 3) (J all ones) and
  o = b (1 - c) m, applied in a single pass (`cv2.transform`, fixed-point: within one level of the exactly
  rounded result, clipped to [0, 255]). uint8 [H, W, 3] -> uint8."""
  if not amplitude:
    return image
  saturation, contrast, brightness = rng.uniform(1 - amplitude, 1 + amplitude, size=3)
  matrix = np.empty((3, 4))
  matrix[:, :3] = brightness * contrast * (saturation * np.eye(3) + (1 - saturation) / 3)
  matrix[:, 3] = brightness * (1 - contrast) * image.mean()
  return cv2.transform(image, matrix)


BLUR_SIGMA = (0.5, 1.5)  # crop pixels: from a soft focus to 1.2% of a 128-px crop


def degrade(image, rng, blur_prob, noise, noise_rng=None):
  """Random loss of image quality: with probability `blur_prob` a Gaussian blur of sigma uniformly in
  BLUR_SIGMA crop pixels, then additive Gaussian noise of standard deviation uniformly in [0, noise] grey
  levels, rounded to the nearest level (no bias). uint8 [H, W, 3] -> uint8. The blur and the noise level come
  from `rng` (nothing is drawn when both are 0), the noise pattern from `noise_rng` (default `rng`)."""
  if blur_prob and rng.uniform() < blur_prob:
    image = cv2.GaussianBlur(image, (0, 0), rng.uniform(*BLUR_SIGMA))
  if noise:
    std = rng.uniform(0.0, noise)
    pattern = (noise_rng or rng).normal(0.0, std, image.shape).astype(np.float32)
    image = np.clip(np.rint(image + pattern), 0, 255).astype(np.uint8)
  return image


def photometric(image, rng, config, noise_rng=None):
  """The pixel-value part of the augmentation: `colour_jitter`, then `degrade`. A clip re-seeds `rng` per frame
  so that its frames share one draw (the same jitter, blur and noise level) and gives each frame its own
  `noise_rng`, as a camera's noise changes from frame to frame."""
  return degrade(colour_jitter(image, rng, config.colour), rng, config.blur, config.noise, noise_rng)


def augment_face(image, landmarks, rng, size, config, scheme, box=None):
  """Crop + augment one face.

  Returns:
    (crop uint8 [S, S, 3], crop landmarks float32 [N, 2], CropTransform).
  """
  transform = random_transform(rng, source_box(landmarks, box), size, config)
  crop = photometric(warp_image(image, transform), rng, config)
  return crop, source_to_crop(landmarks, transform, scheme), transform
