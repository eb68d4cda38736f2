import dataclasses

import cv2
import numpy as np
import pytest

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



def _mirror_linear(linear):
  """P L P, P = diag(-1, 1): the linear map of the flipped crop seen as a crop of the mirrored image."""
  mirror = np.diag([-1.0, 1.0])
  return mirror @ linear @ mirror


def test_flips_keep_the_annotation_offset():
  # Annotations p = c + (e, 0) of true points c, e = label_x_offset * box side. A flipped crop is a crop of the
  # mirrored image (linear map P L P), so its labels must sit P L P (e, 0) from the mirrored content F(L c + t).
  rng = np.random.default_rng(4)
  offset, box = 0.01, np.array([40.0, 50.0, 160.0, 150.0])
  e = offset * 120.0  # box side max(120, 100)
  config = augment.AugmentConfig(rotation_deg=20, scale=0.1, shift=0.05, flip_prob=1.0, label_x_offset=offset)
  content = rng.uniform(50, 150, size=(68, 2))
  labels = content + [e, 0.0]
  for _ in range(5):
    transform = augment.random_transform(rng, box, 96, config)
    mirrored = schemes.flip_landmarks(augment.apply_affine(content, transform.matrix), 96, schemes.IBUG68)
    expected = mirrored + _mirror_linear(transform.matrix[:, :2]) @ [e, 0.0]
    got = augment.source_to_crop(labels, transform, schemes.IBUG68)
    np.testing.assert_allclose(got, expected, atol=1e-4)
    np.testing.assert_allclose(augment.crop_to_source(got, transform, schemes.IBUG68), labels, atol=1e-3)
  # Without flips nothing changes.
  plain = augment.random_transform(rng, box, 96, augment.AugmentConfig(label_x_offset=offset))
  assert not plain.flipped and plain.flip_offset == (0.0, 0.0)


@pytest.mark.parametrize("margin", [augment.CROP_MARGIN, 1.1])
def test_flip_test_shift_undoes_the_training_flip(margin):
  # A model that learned the flipped labels exactly, shown the mirrored un-augmented crop, predicts that crop's
  # flipped labels; the flip test's back-mapping (mirror + centre_mirror_shift in x) must return the labels.
  offset, box, size = 0.01, np.array([40.0, 50.0, 160.0, 150.0]), 96
  labels = np.random.default_rng(7).uniform(50, 150, size=(68, 2))
  centre = augment.centre_transform(box, size, margin)
  flipped = augment.CropTransform(centre.matrix, size, True, tuple(augment.flip_offset(centre.matrix, box, offset)))
  prediction_on_mirror = augment.source_to_crop(labels, flipped, schemes.IBUG68)
  back = schemes.flip_landmarks(prediction_on_mirror, size, schemes.IBUG68) + [
      augment.centre_mirror_shift(size, offset, margin), 0.0]
  np.testing.assert_allclose(back, augment.source_to_crop(labels, centre, schemes.IBUG68), atol=1e-4)


def test_still_clips_keep_the_annotation_offset():
  # Every frame k of a flipped still clip is offset by its own frame matrix M_k: (2 L00 e, -2 L10 e).
  image = np.zeros((200, 200, 3), np.uint8)
  labels = np.random.default_rng(5).uniform(60, 140, size=(68, 2))
  rigid = clips.MotionConfig(rotation_deg=3.0, zoom=0.03, warp=0.0, occluder_prob=0.0)
  make = lambda offset: clips.still_to_clip(
      image, labels, np.random.default_rng(6), 4, 64, schemes.IBUG68,
      augment.AugmentConfig(rotation_deg=20, scale=0.1, flip_prob=1.0, label_x_offset=offset), rigid)
  plain, offset_clip = make(0.0), make(0.02)
  e = 0.02 * np.ptp(labels, axis=0).max()
  source = np.concatenate([labels, np.ones((68, 1))], axis=1)
  for k in range(4):
    # The plain clip's labels, mirrored back, are M_k applied to the labels: recover L_k by least squares.
    unflipped = schemes.flip_landmarks(plain.landmarks[k], 64, schemes.IBUG68)
    linear = np.linalg.lstsq(source, unflipped, rcond=None)[0][:2].T
    shift = offset_clip.landmarks[k] - plain.landmarks[k]
    np.testing.assert_allclose(shift, np.broadcast_to([2 * linear[0, 0] * e, -2 * linear[1, 0] * e], shift.shape),
                               atol=2e-3)
  assert np.ptp(offset_clip.landmarks[:, 0, 0] - plain.landmarks[:, 0, 0]) > 1e-3  # frames differ in zoom/angle


def test_invert_displacement_solves_the_warp():
  rng = np.random.default_rng(3)
  field = clips._smooth_field(rng, 64, 2.0)
  u = rng.uniform(5, 58, size=(20, 2))
  targets = u + clips._bilinear(field, u)
  np.testing.assert_allclose(clips.invert_displacement(field, targets), u, atol=1e-4)


def test_invert_displacement_stops_where_the_iteration_has_converged():
  rng = np.random.default_rng(3)
  field = clips._smooth_field(rng, 64, 2.0)
  targets = rng.uniform(5, 58, size=(20, 2))
  every_step = clips.invert_displacement(field, targets, tolerance=-1.0)  # all 30 iterations
  np.testing.assert_allclose(clips.invert_displacement(field, targets), every_step, atol=1e-8)


def test_colour_jitter_is_the_three_jitters_in_floating_point():
  image = np.random.default_rng(0).integers(0, 256, (48, 40, 3)).astype(np.uint8)
  assert augment.colour_jitter(image, np.random.default_rng(1), 0.0) is image
  for seed in range(4):
    saturation, contrast, brightness = np.random.default_rng(seed).uniform(0.7, 1.3, size=3)
    x = image.astype(np.float64)
    grey = x.mean(axis=-1, keepdims=True)
    x = grey + saturation * (x - grey)
    x = x.mean() + contrast * (x - x.mean())
    expected = np.clip(np.rint(brightness * x), 0, 255)
    rng = np.random.default_rng(seed)
    jittered = augment.colour_jitter(image, rng, 0.3)
    assert jittered.dtype == np.uint8 and jittered.shape == image.shape
    error = np.abs(jittered - expected)
    assert error.max() <= 1 and error.mean() < 0.3, (error.max(), error.mean())  # fixed-point round-off
    after_three_draws = np.random.default_rng(seed)
    for _ in range(3):
      after_three_draws.uniform(0.7, 1.3)
    assert rng.uniform() == after_three_draws.uniform()  # the blur and noise draws that follow are unchanged


def test_frame_gain_is_the_truncated_float_product():
  levels = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=-1)
  for gain in (0.8, 1.0, 1.0 + 1e-9, 1.37):
    expected = np.clip(levels.astype(np.float32) * np.float64(gain), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(clips._scale_levels(levels, np.float64(gain)), expected)


def test_displaced_warp_samples_the_source_at_the_displaced_points():
  rng = np.random.default_rng(6)
  image = cv2.GaussianBlur(rng.integers(0, 256, (90, 100, 3)).astype(np.uint8), (0, 0), 2.0)
  matrix = augment.similarity_matrix((50.0, 45.0), 60.0, 48, angle_deg=10.0)
  displacement = clips._smooth_field(rng, 48, 2.0)
  frame = clips._warp_displaced(image, matrix, displacement)
  u = np.stack(np.meshgrid(np.arange(48.0), np.arange(48.0)), -1).reshape(-1, 2)
  source = augment.apply_affine(u + displacement.reshape(-1, 2), augment.invert_affine(matrix))
  x0, y0 = np.floor(source).astype(int).T
  fx, fy = (source - np.floor(source)).T[..., None]
  expected = ((1 - fy) * ((1 - fx) * image[y0, x0] + fx * image[y0, x0 + 1])
              + fy * ((1 - fx) * image[y0 + 1, x0] + fx * image[y0 + 1, x0 + 1]))  # bilinear, all inside
  assert np.abs(frame.reshape(-1, 3) - expected).max() < 1.5


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


def test_scaled_motion_scales_the_frames_displacement():
  motion = clips.MotionConfig()
  double = motion.scaled(2.0)
  assert (double.rotation_deg, double.zoom, double.shift, double.warp) == (3.0, 0.02, 0.02, 3.0)
  assert (double.brightness, double.occluder_prob) == (motion.brightness, motion.occluder_prob)
  image = np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)
  labels = np.random.default_rng(1).uniform(60, 140, size=(68, 2))
  make = lambda m: clips.still_to_clip(image, labels, np.random.default_rng(2), 4, 64, schemes.IBUG68,
                                       motion=m).landmarks
  still = make(motion.scaled(0.0))
  np.testing.assert_allclose(still, np.broadcast_to(still[0], still.shape), atol=1e-5)  # no motion at all
  rigid = clips.MotionConfig(warp=0.0, occluder_prob=0.0)
  moved = [np.abs(make(rigid.scaled(f))[1:] - still[0]).mean() for f in (1.0, 2.0)]
  # Angle, zoom and shift (the same random draws) double; landmark motion doubles to first order.
  assert moved[0] > 0.1 and 1.9 < moved[1] / moved[0] < 2.1, moved


def test_synthetic_clip_is_smooth_and_exact():
  clip = synthetic.synthetic_clip(np.random.default_rng(5), 4, 64)
  assert clip.frames.shape == (4, 64, 64, 3) and clip.frames.dtype == np.uint8
  assert clip.landmarks.shape == (4, 68, 2)
  steps = np.linalg.norm(np.diff(clip.landmarks, axis=0), axis=-1)
  assert steps.max() < 6.0
  right, left = schemes.pupils(clip.landmarks[0])
  assert right[0] < left[0]  # subject's right eye on the image left, as in iBUG


def test_degrade_blurs_and_adds_noise_from_its_draws():
  image = np.random.default_rng(0).integers(0, 256, (32, 40, 3)).astype(np.uint8)
  rng = np.random.default_rng(5)
  assert augment.degrade(image, rng, 0.0, 0.0) is image
  assert rng.bit_generator.state == np.random.default_rng(5).bit_generator.state  # no draw when off

  # The oracle replays the same draws: the blur decision, its sigma, the noise level; the pattern's own generator.
  twin = np.random.default_rng(7)
  twin.uniform()  # the blur decision, taken at probability 1
  want = cv2.GaussianBlur(image, (0, 0), twin.uniform(*augment.BLUR_SIGMA)).astype(np.float64)
  std = twin.uniform(0.0, 6.0)
  want = np.clip(np.rint(want + np.random.default_rng(8).normal(0.0, std, image.shape).astype(np.float32)), 0, 255)
  got = augment.degrade(image, np.random.default_rng(7), 1.0, 6.0, np.random.default_rng(8))
  np.testing.assert_array_equal(got, want.astype(np.uint8))
  assert got.dtype == np.uint8


def test_degrade_noise_keeps_the_mean_grey_level():
  flat = np.full((128, 128, 3), 128, np.uint8)
  noisy = augment.degrade(flat, np.random.default_rng(0), 0.0, 8.0)
  assert noisy.std() > 1.0 and abs(noisy.mean() - 128.0) < 0.05  # rounding, not truncation


def test_photometric_changes_leave_the_landmarks_and_the_crop_geometry():
  points = np.random.default_rng(3).uniform(40, 160, size=(68, 2))
  image = np.random.default_rng(4).integers(0, 256, (200, 200, 3)).astype(np.uint8)
  plain = augment.AugmentConfig(rotation_deg=20, scale=0.1, shift=0.05, flip_prob=0.5, colour=0.2)
  crops = {}
  for name, extra in (("plain", {}), ("blurred", {"blur": 1.0}), ("noisy", {"noise": 8.0})):
    config = dataclasses.replace(plain, **extra)
    crop, crop_points, transform = augment.augment_face(image, points, np.random.default_rng(9), 64, config,
                                                        schemes.IBUG68)
    crops[name] = crop.astype(float)
    if name == "plain":
      plain_points, plain_matrix = crop_points, transform.matrix
    np.testing.assert_array_equal(crop_points, plain_points)
    np.testing.assert_array_equal(transform.matrix, plain_matrix)
  roughness = {name: np.abs(np.diff(crop, axis=1)).mean() for name, crop in crops.items()}
  assert roughness["blurred"] < roughness["plain"] < roughness["noisy"]  # blur smooths, noise roughens


def test_still_clip_frames_share_the_noise_level_not_the_pattern():
  points = np.random.default_rng(3).uniform(60, 140, size=(68, 2))
  image = np.random.default_rng(4).integers(0, 256, (200, 200, 3)).astype(np.uint8)
  still = clips.MotionConfig(rotation_deg=0, zoom=0, shift=0, warp=0, brightness=0, occluder_prob=0)
  clean = clips.still_to_clip(image, points, np.random.default_rng(1), 3, 64, schemes.IBUG68,
                              augment.NO_AUGMENT, still)
  np.testing.assert_array_equal(clean.frames[0], clean.frames[2])  # no motion: the same frame
  noisy = clips.still_to_clip(image, points, np.random.default_rng(1), 3, 64, schemes.IBUG68,
                              augment.AugmentConfig(noise=10.0), still)
  residuals = noisy.frames.astype(float) - clean.frames  # [K, S, S, 3]; clipping aside, the noise itself
  inside = (clean.frames > 40) & (clean.frames < 215)
  stds = [residuals[k][inside[k]].std() for k in range(3)]
  assert min(stds) > 0.5 and max(stds) < 1.1 * min(stds)  # one level for the clip
  assert np.abs(residuals[0] - residuals[2]).mean() > 0.3  # a pattern of its own in every frame
