"""Landmark schemes: point counts, flip permutations, normalisers; the definition of the CLOR face centre.

Coordinate convention (used everywhere in tsal_tf): **0-based pixel centres**. The centre of the
top-left pixel is (0, 0) and the image spans [-0.5, W-0.5] x [-0.5, H-0.5]. This is the convention of
`cv2.warpAffine` / `cv2.resize`, so affine augmentation moves landmarks exactly. Readers convert:
300W/300VW `.pts` files are 1-based (subtract 1); COCO-style json files are already 0-based.

Face centre used by CLOR (paper 3.1, editor's note 6): the centre of the tight box of all N landmarks,
``((min x + max x) / 2, (min y + max y) / 2)``. It is defined for every scheme (68 and 19 points), it is the
CenterNet "object centre" the paper cites, and it makes all N landmarks offsets (the 2N offset channels)
rather than singling out one landmark whose detection noise would then enter every other point. The training
target is built from it in losses.centre_target.
"""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class LandmarkScheme:
  """A landmark layout.

  Attributes:
    name: short identifier ("ibug68", "aflw19").
    num_points: N.
    flip_permutation: index array p with flipped[i] = original[p[i]] after mirroring x.
    default_normalizer: the NME normaliser the benchmark uses for this scheme.
  """
  name: str
  num_points: int
  flip_permutation: tuple
  default_normalizer: str


def _pairs_to_permutation(num_points, pairs):
  perm = list(range(num_points))
  for a, b in pairs:
    perm[a], perm[b] = b, a
  return tuple(perm)


_IBUG68_PAIRS = (
    [(i, 16 - i) for i in range(8)]                                  # jaw
    + [(17, 26), (18, 25), (19, 24), (20, 23), (21, 22)]               # brows
    + [(31, 35), (32, 34)]                                             # nose base
    + [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]     # eyes
    + [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58)]               # outer lip
    + [(60, 64), (61, 63), (65, 67)])                                  # inner lip

# AFLW-19 (SAN/SBR/mmpose order): brows 0-5, eyes 6-11, nose 12-14, mouth 15-17, chin 18.
_AFLW19_PAIRS = [(0, 5), (1, 4), (2, 3), (6, 11), (7, 10), (8, 9), (12, 14), (15, 17)]

IBUG68 = LandmarkScheme("ibug68", 68, _pairs_to_permutation(68, _IBUG68_PAIRS), "inter_pupil")
AFLW19 = LandmarkScheme("aflw19", 19, _pairs_to_permutation(19, _AFLW19_PAIRS), "face_size")

SCHEMES = {s.name: s for s in (IBUG68, AFLW19)}
IBUG68_RIGHT_EYE = slice(36, 42)
IBUG68_LEFT_EYE = slice(42, 48)
IBUG68_OUTER_CORNERS = (36, 45)


def scheme_for(num_points):
  """The scheme with `num_points` landmarks; raises ValueError for an unknown count."""
  for scheme in SCHEMES.values():
    if scheme.num_points == num_points:
      return scheme
  raise ValueError(f"no landmark scheme has {num_points} points (known: "
                   f"{sorted(s.num_points for s in SCHEMES.values())})")


def flip_landmarks(landmarks, image_width, scheme):
  """Mirror landmarks [..., N, 2] horizontally: x' = (W - 1) - x, then permute left/right points."""
  landmarks = np.asarray(landmarks)
  flipped = landmarks.copy()
  flipped[..., 0] = (image_width - 1) - landmarks[..., 0]
  return flipped[..., list(scheme.flip_permutation), :]


def pupils(landmarks):
  """Pupil centres of iBUG-68 landmarks [..., 68, 2]: means of points 36-41 and 42-47 -> two [..., 2]."""
  landmarks = np.asarray(landmarks)
  return (landmarks[..., IBUG68_RIGHT_EYE, :].mean(axis=-2),
          landmarks[..., IBUG68_LEFT_EYE, :].mean(axis=-2))


def landmark_box(landmarks):
  """Tight box of landmarks [..., N, 2] -> [..., 4] as (x1, y1, x2, y2)."""
  landmarks = np.asarray(landmarks)
  return np.concatenate([landmarks.min(axis=-2), landmarks.max(axis=-2)], axis=-1)
