"""A procedural face-video generator with the iBUG 68-point layout; needs no external data.

A face is a parametric 68-point shape in a face frame (x right, y down, face width about 1, each point with
a depth z for head rotation): jaw ellipse, brows, nose, eyes and lips (see `_template`). A frame renders
skin, eyes, brows, nose and lips at those points over a random textured background, with pose (yaw, pitch,
roll), scale, translation and expression (mouth opening, brow raise, eye openness) interpolated smoothly
between two random key states across the clip, plus an optional moving occluder. The landmarks are exact.
"""

import cv2
import numpy as np

from tsal_tf.data import clips

_PARAM_NAMES = ("yaw", "pitch", "roll", "scale", "tx", "ty", "mouth", "brow", "eye")


def _ellipse(cx, cy, rx, ry, degrees):
  a = np.deg2rad(np.asarray(degrees, np.float64))
  return np.stack([cx + rx * np.cos(a), cy - ry * np.sin(a)], axis=-1)


def _template(mouth, brow, eye):
  """68 points [68, 2] in the face frame and depths [68] for the given expression in [0, 1]."""
  phi = np.linspace(0.0, np.pi, 17)
  jaw = np.stack([-0.5 * np.cos(phi), -0.05 + 0.55 * np.sin(phi)], -1)
  brow_x = np.linspace(-0.42, -0.08, 5)
  right_brow = np.stack([brow_x, -0.33 - 0.05 * np.sin(np.linspace(0.2, 2.9, 5)) - 0.06 * brow], -1)
  left_brow = right_brow[::-1] * [-1, 1]
  bridge = np.stack([np.zeros(4), np.linspace(-0.2, 0.08, 4)], -1)
  nose_base = np.stack([np.linspace(-0.1, 0.1, 5), 0.13 + 0.025 * np.cos(np.linspace(-1.3, 1.3, 5))], -1)
  eye_ry = 0.012 + 0.035 * eye
  corners = [180, 120, 60, 0, 300, 240]
  right_eye = _ellipse(-0.2, -0.17, 0.085, eye_ry, corners)
  left_eye = _ellipse(0.2, -0.17, 0.085, eye_ry, corners)
  outer = _ellipse(0.0, 0.3 + 0.03 * mouth, 0.19, 1.0, [180, 150, 120, 90, 60, 30, 0, 330, 300, 270, 240, 210])
  outer[:, 1] = np.where(outer[:, 1] < 0.3 + 0.03 * mouth,
                         0.3 + 0.03 * mouth - 0.06 * (0.3 + 0.03 * mouth - outer[:, 1]),
                         0.3 + 0.03 * mouth + (0.07 + 0.1 * mouth) * (outer[:, 1] - 0.3 - 0.03 * mouth))
  inner = _ellipse(0.0, 0.3 + 0.03 * mouth, 0.12, 0.005 + 0.08 * mouth, [180, 135, 90, 45, 0, 315, 270, 225])
  points = np.concatenate([jaw, right_brow, left_brow, bridge, nose_base, right_eye, left_eye, outer, inner])
  depth = 0.35 * np.clip(1.0 - (points[:, 0] / 0.55) ** 2, 0.0, 1.0)
  depth[27:36] += np.r_[0.05, 0.1, 0.15, 0.2, np.full(5, 0.1)]
  return points, depth


def _project(points, depth, params, size):
  """Rotate by yaw/pitch/roll, scale and place in an S x S image (0-based pixel centres)."""
  yaw, pitch, roll, scale, tx, ty = (params[n] for n in _PARAM_NAMES[:6])
  x, y, z = points[:, 0], points[:, 1], depth
  x, z = x * np.cos(yaw) + z * np.sin(yaw), -x * np.sin(yaw) + z * np.cos(yaw)
  y = y * np.cos(pitch) - z * np.sin(pitch)
  c, s = np.cos(roll), np.sin(roll)
  x, y = c * x - s * y, s * x + c * y
  half = (size - 1) / 2.0
  return np.stack([half + tx * size + scale * size * x, half + ty * size + scale * size * y], -1)


def random_params(rng):
  """One random key state of pose, placement and expression."""
  return {"yaw": rng.uniform(-0.5, 0.5), "pitch": rng.uniform(-0.25, 0.25), "roll": rng.uniform(-0.3, 0.3),
          "scale": rng.uniform(0.45, 0.6), "tx": rng.uniform(-0.06, 0.06), "ty": rng.uniform(-0.06, 0.06),
          "mouth": rng.uniform(0, 1), "brow": rng.uniform(0, 1), "eye": rng.uniform(0.3, 1.0)}


def landmarks_for(params, size):
  """The exact 68 landmarks [68, 2] of a face with `params` in an S x S image."""
  points, depth = _template(params["mouth"], params["brow"], params["eye"])
  return _project(points, depth, params, size).astype(np.float32)


def _background(rng, size):
  coarse = rng.uniform(0, 255, size=(4, 4, 3)).astype(np.float32)
  image = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
  fine = cv2.resize(rng.normal(0, 25, size=(size // 4, size // 4, 3)).astype(np.float32), (size, size))
  return np.clip(image + fine, 0, 255)


def _poly(image, points, colour, closed=True, fill=False, thickness=1):
  pts = np.round(points * 16).astype(np.int32)[None]
  if fill:
    cv2.fillPoly(image, pts, colour, cv2.LINE_AA, 4)
  else:
    cv2.polylines(image, pts, closed, colour, thickness, cv2.LINE_AA, 4)


def render_face(background, landmarks, look, size):
  """Draw a face with the given 68 landmarks on a copy of `background` (float32 [S, S, 3])."""
  image = background.copy()
  line = max(1, size // 64)
  hull = cv2.convexHull(np.concatenate([landmarks[:27], landmarks[17:27] - [0, 0.08 * size]]).astype(np.float32))
  _poly(image, hull[:, 0], look["skin"], fill=True)
  _poly(image, landmarks[:17], look["jaw"], closed=False, thickness=line)
  for brow in (landmarks[17:22], landmarks[22:27]):
    _poly(image, brow, look["brow"], closed=False, thickness=2 * line)
  _poly(image, landmarks[27:31], look["jaw"], closed=False, thickness=line)
  _poly(image, landmarks[31:36], look["jaw"], closed=False, thickness=line)
  for eye in (landmarks[36:42], landmarks[42:48]):
    _poly(image, eye, (235, 235, 235), fill=True)
    centre = eye.mean(axis=0)
    radius = max(1, int(0.35 * np.linalg.norm(eye[3] - eye[0]) * 16 / 2))
    cv2.circle(image, tuple(np.round(centre * 16).astype(int)), radius, look["iris"], -1, cv2.LINE_AA, 4)
    _poly(image, eye, (20, 20, 20), thickness=line)
  _poly(image, landmarks[48:60], look["lips"], fill=True)
  _poly(image, landmarks[60:68], (40, 10, 10), fill=True)
  return image


def random_look(rng):
  skin = rng.uniform(90, 230)
  return {"skin": (skin, skin * rng.uniform(0.7, 0.9), skin * rng.uniform(0.5, 0.8)),
          "jaw": tuple(float(v) for v in rng.uniform(20, 90, 3)),
          "brow": tuple(float(v) for v in rng.uniform(10, 70, 3)),
          "iris": tuple(float(v) for v in rng.uniform(10, 120, 3)),
          "lips": (rng.uniform(120, 220), rng.uniform(30, 90), rng.uniform(40, 100))}


def synthetic_clip(rng, num_frames, size, motion_scale=0.15, occluder_prob=0.3):
  """A K-frame synthetic face video; frame 0 labeled.

  Args:
    rng: np.random.Generator.
    num_frames: K.
    size: image side S.
    motion_scale: how far the last frame's key state moves from the first (0 = static clip).
    occluder_prob: probability of a moving occluder.

  Returns:
    clips.Clip with frames uint8 [K, S, S, 3], exact landmarks [K, 68, 2], labeled [K].
  """
  start = random_params(rng)
  target = random_params(rng)
  end = {k: start[k] + motion_scale * (target[k] - start[k]) for k in start}
  look = random_look(rng)
  background = _background(rng, size)
  occluder = None
  if rng.uniform() < occluder_prob:
    a, b = rng.uniform(0, size, size=(2, 2))
    occluder = (a, b, rng.uniform(0.06, 0.15, 2) * size, tuple(float(c) for c in rng.uniform(0, 255, 3)))
  frames, tracks = [], []
  for k in range(num_frames):
    t = k / max(num_frames - 1, 1)
    params = {n: start[n] + t * (end[n] - start[n]) for n in start}
    points = landmarks_for(params, size)
    image = render_face(background, points, look, size)
    image += rng.normal(0, 4, image.shape)
    if occluder is not None:
      a, b, radii, colour = occluder
      clips.draw_occluder(image, a + (b - a) * t, radii, colour)
    frames.append(np.clip(image, 0, 255).astype(np.uint8))
    tracks.append(points)
  labeled = np.zeros(num_frames, bool)
  labeled[0] = True
  return clips.Clip(np.stack(frames), np.stack(tracks), labeled)
