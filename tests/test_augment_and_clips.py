import numpy as np

from tsal_tf.data import augment, clips, schemes, synthetic


def _dot_image(points, shape=(200, 240)):
  """A black image with a bright 1-pixel dot at each integer point."""
  image = np.zeros(shape + (3,), np.uint8)
  for x, y in np.round(points).astype(int):
    image[y, x] = 255
  return image


def test_augment_then_invert_returns_the_landmarks():
  rng = np.random.default_rng(1)
  for trial in range(50):
    points = rng.uniform(40, 160, size=(68, 2))
    config = augment.AugmentConfig(rotation_deg=30, scale=0.2, shift=0.1, flip_prob=0.5, colour=0.3)
    _, crop_points, transform = augment.augment_face(np.zeros((200, 200, 3), np.uint8), points, rng, 96,
                                                     config, schemes.IBUG68)
    back = augment.crop_to_source(crop_points, transform, schemes.IBUG68)
    assert np.max(np.abs(back - points)) < 1e-3


def test_landmarks_follow_the_pixels():
  # One dot per landmark-sized blob: after augmentation the brightest pixel near each transformed
  # landmark must be within a pixel (bilinear resampling blurs a dot over <= 2x2 pixels).
  rng = np.random.default_rng(2)
  points = np.array([[60.0, 70.0], [150.0, 90.0], [100.0, 150.0]])
  image = _dot_image(points)
  image = np.maximum.reduce([np.roll(np.roll(image, dy, 0), dx, 1) for dy in (-1, 0, 1) for dx in (-1, 0, 1)])
  transform = augment.random_transform(rng, (50, 50, 160, 160), 128,
                                       augment.AugmentConfig(rotation_deg=20, scale=0.1, flip_prob=1.0))
  crop = augment.warp_image(image, transform)[..., 0].astype(float)
  moved = augment.apply_affine(points, transform.matrix)
  moved[:, 0] = 127 - moved[:, 0]
  for x, y in moved:
    xi, yi = int(round(x)), int(round(y))
    window = crop[yi - 2:yi + 3, xi - 2:xi + 3]
    wy, wx = np.unravel_index(np.argmax(window), window.shape)
    centroid = np.array([(window * np.arange(5)[None]).sum(), (window * np.arange(5)[:, None]).sum()]) / window.sum()
    assert np.max(np.abs(centroid - 2 - [x - xi, y - yi])) < 0.5



def test_flips_keep_the_annotation_offset():
  # Annotations p = c + (e, 0) of true points c, e = label_x_offset * box side. A flipped crop must label the
  # mirrored content the way an unflipped crop labels content: F(L c + t) + L (e, 0), F the pixel mirror.
  rng = np.random.default_rng(4)
  offset, box = 0.01, np.array([40.0, 50.0, 160.0, 150.0])
  e = offset * 120.0  # box side max(120, 100)
  config = augment.AugmentConfig(rotation_deg=20, scale=0.1, shift=0.05, flip_prob=1.0, label_x_offset=offset)
  content = rng.uniform(50, 150, size=(68, 2))
  labels = content + [e, 0.0]
  for _ in range(5):
    transform = augment.random_transform(rng, box, 96, config)
    linear = transform.matrix[:, :2]
    mirrored = schemes.flip_landmarks(augment.apply_affine(content, transform.matrix), 96, schemes.IBUG68)
    expected = mirrored + linear @ [e, 0.0]
    got = augment.source_to_crop(labels, transform, schemes.IBUG68)
    np.testing.assert_allclose(got, expected, atol=1e-4)
    np.testing.assert_allclose(augment.crop_to_source(got, transform, schemes.IBUG68), labels, atol=1e-3)
  # Without flips nothing changes; the flip test's shift is that of the un-augmented crop.
  plain = augment.random_transform(rng, box, 96, augment.AugmentConfig(label_x_offset=offset))
  assert not plain.flipped and plain.x_shift == 0.0
  centre = augment.centre_transform(box, 96, augment.CROP_MARGIN)
  assert np.isclose(augment.centre_mirror_shift(96, offset), augment.mirror_shift(centre.matrix, box, offset))


def test_still_clips_keep_the_annotation_offset():
  # Every frame of a flipped still clip carries the same shift as a flipped crop of its own frame matrix.
  image = np.zeros((200, 200, 3), np.uint8)
  labels = np.random.default_rng(5).uniform(60, 140, size=(68, 2))
  args = (4, 64, schemes.IBUG68)
  flipped = augment.AugmentConfig(flip_prob=1.0)
  plain_clip = clips.still_to_clip(image, labels, np.random.default_rng(6), *args, flipped)
  offset_clip = clips.still_to_clip(image, labels, np.random.default_rng(6), *args,
                                    augment.AugmentConfig(flip_prob=1.0, label_x_offset=0.02))
  box_side = np.ptp(labels, axis=0).max()
  # Frame k's scale is the base scale times its zoom; the x shift is 2 L_00 e with L_00 = scale * cos(angle).
  shift = offset_clip.landmarks[..., 0] - plain_clip.landmarks[..., 0]  # [K, N]
  assert np.allclose(shift, shift[:, :1], atol=1e-4)  # one shift per frame
  base_scale = 64 / (augment.CROP_MARGIN * box_side)
  assert np.allclose(shift[0], 2 * base_scale * 0.02 * box_side, atol=1e-4)
  np.testing.assert_allclose(offset_clip.landmarks[..., 1], plain_clip.landmarks[..., 1], atol=1e-5)


def test_invert_displacement_solves_the_warp():
  rng = np.random.default_rng(3)
  field = clips._smooth_field(rng, 64, 2.0)
  u = rng.uniform(5, 58, size=(20, 2))
  targets = u + clips._bilinear(field, u)
  np.testing.assert_allclose(clips.invert_displacement(field, targets), u, atol=1e-4)


def test_still_clip_moves_landmarks_with_the_content():
  # Dots at the landmarks of a still: in every synthesized frame the dots sit at the clip's landmarks.
  rng = np.random.default_rng(4)
  grid = np.stack(np.meshgrid(np.arange(9), np.arange(8)), -1).reshape(-1, 2)[:68]
  points = (np.array([50.0, 40.0]) + 16.0 * grid).astype(float)  # dots 16 px apart: one per window
  image = _dot_image(points)
  image = np.maximum.reduce([np.roll(np.roll(image, dy, 0), dx, 1) for dy in (-1, 0, 1) for dx in (-1, 0, 1)])
  motion = clips.MotionConfig(rotation_deg=2, zoom=0.02, shift=0.02, warp=2.0, brightness=0.0, occluder_prob=0)
  clip = clips.still_to_clip(image, points, rng, 5, 128, schemes.IBUG68,
                             augment.AugmentConfig(crop_margin=1.6), motion)
  assert clip.frames.shape == (5, 128, 128, 3) and clip.labeled.tolist() == [True] + [False] * 4
  for frame, track in zip(clip.frames, clip.landmarks):
    grey = frame[..., 0].astype(float)
    for x, y in track:
      xi, yi = int(round(x)), int(round(y))
      if not (3 <= xi < 125 and 3 <= yi < 125):
        continue
      window = grey[yi - 3:yi + 4, xi - 3:xi + 4]
      centroid = np.array([(window * np.arange(7)[None]).sum(), (window * np.arange(7)[:, None]).sum()]) / window.sum()
      assert np.max(np.abs(centroid - 3 - [x - xi, y - yi])) < 0.45


def test_synthetic_clip_is_smooth_and_exact():
  clip = synthetic.synthetic_clip(np.random.default_rng(5), 4, 64)
  assert clip.frames.shape == (4, 64, 64, 3) and clip.frames.dtype == np.uint8
  assert clip.landmarks.shape == (4, 68, 2)
  steps = np.linalg.norm(np.diff(clip.landmarks, axis=0), axis=-1)
  assert steps.max() < 6.0
  right, left = schemes.pupils(clip.landmarks[0])
  assert right[0] < left[0]  # subject's right eye on the image left, as in iBUG
