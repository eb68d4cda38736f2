import dataclasses

import numpy as np
import pytest

from tsal_tf.data import augment, formats, pipelines, schemes, sources
from conftest import data_path


def test_clip_dataset_batches_and_is_deterministic():
  source = sources.SyntheticClipSource(count=6, size=32, num_frames=3)
  first = next(iter(pipelines.make_dataset(source, batch_size=4, seed=3)))
  again = next(iter(pipelines.make_dataset(source, batch_size=4, seed=3)))
  assert first["frames"].shape == (4, 3, 32, 32, 3) and first["frames"].dtype.name == "uint8"
  assert first["landmarks"].shape == (4, 3, 68, 2)
  assert first["labeled"].numpy()[:, 0].all() and not first["labeled"].numpy()[:, 1:].any()
  np.testing.assert_array_equal(first["frames"].numpy(), again["frames"].numpy())


def test_epochs_reshuffle_and_cover_every_example():
  source = sources.SyntheticClipSource(count=5, size=16, num_frames=2)
  dataset = pipelines.make_dataset(source, batch_size=5, seed=0)
  batches = [b["landmarks"].numpy() for _, b in zip(range(2), dataset)]
  expected = np.stack([source.example(i, 0)["landmarks"] for i in range(5)])
  assert sorted(x.tobytes() for x in batches[0]) == sorted(x.tobytes() for x in expected)
  assert not np.array_equal(batches[0], batches[1])


def test_real_300w_images_and_clips():
  samples = formats.load_pts_folder(data_path("300w_helen_test"))[:4]
  images = pipelines.make_dataset(sources.ImageSource(samples, 64, schemes.IBUG68, augment.TRAIN_AUGMENT),
                                  batch_size=2, repeat=False)
  batch = next(iter(images))
  assert batch["image"].shape == (2, 64, 64, 3) and batch["matrix"].shape == (2, 2, 3)
  clips = sources.StillClipSource(samples, 64, 4, schemes.IBUG68, augment.TRAIN_AUGMENT)
  example = clips.example(1, 0)
  assert example["frames"].shape == (4, 64, 64, 3) and np.isfinite(example["landmarks"]).all()


def test_300vw_video_clips_follow_the_label_stride():
  videos = formats.load_300vw(data_path("300vw_sample"))
  source = sources.VideoClipSource(videos, 64, 2, schemes.IBUG68, label_stride=1)
  assert len(source) == 2  # one 2-frame clip per video (its 2 annotated frames)
  example = source.example(0)
  assert example["frames"].shape == (2, 64, 64, 3)
  assert example["labeled"].tolist() == [True, False] and np.isfinite(example["landmarks"]).all()



def test_occluder_probability_reaches_the_still_clips():
  # --occluder_prob goes through DataConfig into the still clips' MotionConfig: with 0 a clip is exactly the
  # occluder-free clip of the same seed; with 1 the frames change and the landmarks do not.
  from tsal_tf.data import build, clips
  folder = data_path("300w_helen_test")
  config = lambda p: build.DataConfig(data="300w_clips", train_dirs=(folder,), val_dirs=(folder,), val_count=2,
                                      val_clip_count=0, input_size=64, clip_length=2, occluder_prob=p)
  never, always = build.build_data(config(0.0)).train, build.build_data(config(1.0)).train
  reference = sources.StillClipSource(never.samples, 64, 2, schemes.IBUG68, augment.TRAIN_AUGMENT,
                                      clips.MotionConfig(occluder_prob=0.0))
  plain, occluded = never.example(3, 0), always.example(3, 0)
  np.testing.assert_array_equal(plain["frames"], reference.example(3, 0)["frames"])
  np.testing.assert_array_equal(plain["landmarks"], occluded["landmarks"])
  assert np.any(plain["frames"] != occluded["frames"])


def test_still_motion_reaches_the_still_clips():
  # --still_motion goes through DataConfig into the still clips' MotionConfig: with 0 no frame moves, with 2 a
  # clip is the one a source with twice the motion draws from the same seed; other data refuse it.
  from tsal_tf.data import build, clips
  folder = data_path("300w_helen_test")
  config = lambda m, data="300w_clips": build.DataConfig(
      data=data, train_dirs=(folder,), val_dirs=(folder,), val_count=2, val_clip_count=0, input_size=64,
      clip_length=3, occluder_prob=0.0, still_motion=m)
  still = build.build_data(config(0.0)).train.example(3, 0)["landmarks"]
  np.testing.assert_allclose(still, np.broadcast_to(still[0], still.shape), atol=1e-4)
  moving = build.build_data(config(2.0)).train
  reference = sources.StillClipSource(moving.samples, 64, 3, schemes.IBUG68, augment.TRAIN_AUGMENT,
                                      clips.MotionConfig(occluder_prob=0.0).scaled(2.0))
  np.testing.assert_array_equal(moving.example(3, 0)["frames"], reference.example(3, 0)["frames"])
  with pytest.raises(ValueError, match="needs --data=300w_clips"):
    build.build_data(config(2.0, "synthetic"))


def test_augmentation_ranges_reach_the_still_clips():
  # --augment_rotation / --augment_scale / --augment_shift go through DataConfig into the clips' AugmentConfig:
  # a clip equals the one a source with those ranges draws from the same seed, and differs from the default's.
  from tsal_tf.data import build, clips
  folder = data_path("300w_helen_test")
  config = build.DataConfig(data="300w_clips", train_dirs=(folder,), val_dirs=(folder,), val_count=2,
                            val_clip_count=0, input_size=64, clip_length=2, occluder_prob=0.0,
                            augment_rotation=30.0, augment_scale=0.2, augment_shift=0.1)
  wide = build.build_data(config).train
  ranges = dataclasses.replace(augment.TRAIN_AUGMENT, rotation_deg=30.0, scale=0.2, shift=0.1)
  motion = clips.MotionConfig(occluder_prob=0.0)
  reference = sources.StillClipSource(wide.samples, 64, 2, schemes.IBUG68, ranges, motion)
  default = sources.StillClipSource(wide.samples, 64, 2, schemes.IBUG68, augment.TRAIN_AUGMENT, motion)
  np.testing.assert_array_equal(wide.example(3, 0)["landmarks"], reference.example(3, 0)["landmarks"])
  np.testing.assert_array_equal(wide.example(3, 0)["frames"], reference.example(3, 0)["frames"])
  assert np.abs(wide.example(3, 0)["landmarks"] - default.example(3, 0)["landmarks"]).max() > 0.5
