"""Partially labeled training (--label_fraction): the seeded choice, the sources, the masked objective."""

import os

import numpy as np
import pytest
from keras import ops

from tsal_tf import losses
from tsal_tf import objective
from tsal_tf import teacher_student
from tsal_tf.data import build
from tsal_tf.data import sources
from tsal_tf.model import decoders
from tsal_tf.model.config import NetworkConfig
from tsal_tf.objective import ObjectiveConfig
from tsal_tf.teacher_student import TeacherStudent

import runners
from runners import ROOT
DATA = os.path.join(ROOT, "..", "shared", "data")


def _np(x):
  return ops.convert_to_numpy(x)


def test_choose_labeled_is_a_seeded_fraction():
  mask = sources.choose_labeled(1675, 0.1, seed=0)
  assert mask.dtype == bool and mask.shape == (1675,) and mask.sum() == 168
  np.testing.assert_array_equal(mask, sources.choose_labeled(1675, 0.1, seed=0))
  assert (mask != sources.choose_labeled(1675, 0.1, seed=1)).any()
  assert sources.choose_labeled(10, 0.01, seed=0).sum() == 1  # at least one labeled face
  with pytest.raises(ValueError, match="not in"):
    sources.choose_labeled(10, 0.0, seed=0)


def _config(**overrides):
  return build.DataConfig(data="300w_clips", train_dirs=(os.path.join(DATA, "300w_lfpw_train"),),
                          val_dirs=(os.path.join(DATA, "300w_lfpw_test"),), val_count=2, val_clip_count=0,
                          input_size=32, **overrides)


@pytest.mark.skipif(not os.path.isdir(DATA), reason="needs ../shared/data")
def test_unlabeled_faces_become_clips_without_a_label_and_single_frames_leave_them_out():
  full = build.build_data(_config(clip_length=2))
  partial = build.build_data(_config(clip_length=2, label_fraction=0.25, label_seed=3))
  mask = sources.choose_labeled(len(full.train), 0.25, seed=3)
  assert len(partial.train) == len(full.train) and len(partial.labeled_names) == mask.sum()
  assert partial.labeled_names == [s.image_path for s, keep in zip(full.train.samples, mask) if keep]
  unlabeled, labeled = int(np.flatnonzero(~mask)[0]), int(np.flatnonzero(mask)[0])
  example = partial.train.example(unlabeled, seed=5)
  assert not example["labeled"].any()
  # The clip itself (frames, and the ground truth kept for evaluation) is the fully labeled run's clip.
  reference = full.train.example(unlabeled, seed=5)
  np.testing.assert_array_equal(example["frames"], reference["frames"])
  np.testing.assert_array_equal(example["landmarks"], reference["landmarks"])
  np.testing.assert_array_equal(partial.train.example(labeled, seed=5)["labeled"], [True, False])

  single = build.build_data(_config(clip_length=1, label_fraction=0.25, label_seed=3))
  assert len(single.train) == mask.sum() and single.labeled_names == partial.labeled_names
  assert partial.partial_labels and not single.partial_labels  # single frames keep only the labeled faces
  every_face = build.build_data(_config(clip_length=1)).train
  np.testing.assert_array_equal(single.train.example(0, seed=5)["frames"],
                                every_face.example(labeled, seed=5)["frames"])


def test_weighted_losses_equal_the_losses_of_the_labeled_examples():
  rng = np.random.default_rng(0)
  logits = rng.normal(size=(3, 8, 8, 5)).astype(np.float32)
  points = rng.uniform(1, 6, size=(3, 5, 2)).astype(np.float32)
  weights = _np(teacher_student.labeled_mean_weights(np.array([1.0, 0.0, 1.0], np.float32)))
  np.testing.assert_allclose(weights, [1.5, 0.0, 1.5])  # labeled * B / (labeled clips)
  keep = [0, 2]
  for config in (ObjectiveConfig(heatmap_loss="softmax", integral_weight=8.0),
                 ObjectiveConfig(heatmap_loss="mse", foreground_weight=10.0)):
    assert float(losses.heatmap_loss(logits, points, config, weights)) == pytest.approx(
        float(losses.heatmap_loss(logits[keep], points[keep], config)), rel=1e-5)
    assert float(losses.heatmap_loss(logits, points, config, np.ones(3, np.float32))) == pytest.approx(
        float(losses.heatmap_loss(logits, points, config)), rel=1e-5)
  centre = rng.normal(size=(3, 8, 8, 1)).astype(np.float32)
  offsets = rng.normal(size=(3, 8, 8, 10)).astype(np.float32)
  assert float(losses.clor_loss(centre, offsets, points, weights=weights)) == pytest.approx(
      float(losses.clor_loss(centre[keep], offsets[keep], points[keep])), rel=1e-5)
  assert float(losses.heatmap_loss(logits, points, ObjectiveConfig(), np.zeros(3, np.float32))) == 0.0


def test_unlabeled_clips_track_from_the_guide_and_skip_the_supervised_terms():
  rng = np.random.default_rng(1)
  batch, frames_per_clip, size, n = 2, 3, 8, 4
  outputs = {"heatmaps": rng.normal(size=(batch, frames_per_clip, size, size, n)).astype(np.float32),
             "centre": rng.normal(size=(batch, frames_per_clip, size, size, 1)).astype(np.float32),
             "offsets": rng.normal(size=(batch, frames_per_clip, size, size, 2 * n)).astype(np.float32),
             "flows": [rng.normal(0, 0.5, size=(batch, frames_per_clip - 1, size, size, 2)).astype(np.float32)]}
  frames = rng.uniform(size=(batch, frames_per_clip, size, size, 3)).astype(np.float32)
  labels = rng.uniform(2, 5, size=(batch, n, 2)).astype(np.float32)
  guide = rng.uniform(2, 5, size=(batch, n, 2)).astype(np.float32)
  config = ObjectiveConfig(sic=False, mfds=False)
  weights = _np(teacher_student.labeled_mean_weights(np.array([1.0, 0.0], np.float32)))
  mixed = objective.network_objective(outputs, frames, labels, 1.0, "teacher", config, label_weights=weights,
                                      guide=guide)
  first = {k: (v[:1] if k != "flows" else [v[0][:1]]) for k, v in outputs.items()}
  only_labeled = objective.network_objective(first, frames[:1], labels[:1], 1.0, "teacher", config)
  for term in ("l_M", "l_C"):
    assert float(mixed[term]) == pytest.approx(float(only_labeled[term]), rel=1e-5)
  from_guide = objective.network_objective(outputs, frames, guide, 1.0, "teacher", config)
  assert float(mixed["L_d"]) == pytest.approx(float(from_guide["L_d"]), rel=1e-5)
  assert float(mixed["L_d"]) != pytest.approx(
      float(objective.network_objective(outputs, frames, labels, 1.0, "teacher", config)["L_d"]), rel=1e-3)
  with pytest.raises(ValueError, match="tracking guide"):
    objective.network_objective(outputs, frames, labels, 1.0, "teacher", config, label_weights=weights)


@pytest.mark.parametrize("async_learning", [True, False])
def test_tracking_guide_is_the_label_or_the_evaluated_networks_detection(async_learning):
  config = NetworkConfig(input_size=32, widths=(8, 16), head_width=8, flow_widths=(8, 16), flow_scales=2)
  model = TeacherStudent(config, ObjectiveConfig(), steps_per_epoch=1, async_learning=async_learning)
  assert model.partial_labels  # the safe default: nothing assumes every clip is labeled
  rng = np.random.default_rng(2)
  landmarks = rng.uniform(4, 28, size=(2, 3, 68, 2)).astype(np.float32)
  landmarks[1] = np.nan  # an unlabeled video clip has no annotation at all
  batch = {"frames": rng.integers(0, 256, size=(2, 3, 32, 32, 3), dtype=np.uint8), "landmarks": landmarks,
           "labeled": np.array([[True, False, False], [False, False, False]])}
  frames, labels, labeled = model.inputs_of(batch)
  np.testing.assert_array_equal(_np(labeled), [1.0, 0.0])
  np.testing.assert_allclose(_np(labels)[0], _np(decoders.to_heatmap_coords(landmarks[0, 0], 2)), rtol=1e-6)
  np.testing.assert_array_equal(_np(labels)[1], 0.0)
  outputs = {role: net(frames) for role, net in model.roles()}
  if async_learning:  # make the two networks' detections differ: the guide must be the teacher's
    outputs["student"] = dict(outputs["student"], heatmaps=-outputs["student"]["heatmaps"])
  guide = _np(model.tracking_guide(outputs, labels, labeled))
  detector = "teacher" if async_learning else "student"
  detected, _ = decoders.decode_lhr(outputs[detector]["heatmaps"][:, 0])
  np.testing.assert_allclose(guide[0], _np(labels)[0], rtol=1e-6)
  np.testing.assert_allclose(guide[1], _np(detected)[1], rtol=1e-5)
  terms = model.role_terms("student", model.student, outputs["student"], frames, labels,
                           model.label_weights(labeled), ops.convert_to_tensor(guide), 1.0)
  assert np.isfinite(float(terms["total"]))
  np.testing.assert_allclose(_np(model.label_weights(labeled)), [2.0, 0.0])
  model.partial_labels = False  # every clip labeled: the objective tracks from the labels, weights all 1
  assert model.tracking_guide(outputs, labels, labeled) is None and model.label_weights(labeled) is None


@pytest.mark.skipif(not os.path.isdir(DATA), reason="needs ../shared/data")
def test_unlabeled_videos_join_the_training_clips_without_labels(tmp_path):
  from tsal_tf.data import formats
  video = formats.load_300vw(os.path.join(DATA, "video_afewva"))["001"]
  lines = []
  for frame in video:  # a `prepare`-style list: a face box on every frame, no annotation
    (x1, y1), (x2, y2) = frame.landmarks.min(axis=0), frame.landmarks.max(axis=0)
    lines.append(f"{frame.image_path} None {x1:.1f} {y1:.1f} {x2:.1f} {y2:.1f}")
  (tmp_path / "unlabeled.lst").write_text("\n".join(lines) + "\n")
  stills = build.build_data(_config(clip_length=3))
  mixed = build.build_data(_config(clip_length=3, unlabeled_lists=(str(tmp_path / "unlabeled.lst"),)))
  assert len(mixed.train) == len(stills.train) + len(video) - 2  # a 3-frame clip starts at frames 0..39
  assert mixed.labeled_names == stills.labeled_names and mixed.partial_labels and not stills.partial_labels
  video_name = f"{tmp_path / 'unlabeled.lst'}:{os.path.dirname(video[0].image_path)}"
  assert mixed.train.name(0) == stills.labeled_names[0] and mixed.train.name(len(stills.train) + 5) == (
      f"{video_name}:5")
  clip = mixed.train.example(len(stills.train) + 5, seed=0)
  assert clip["frames"].shape == (3, 32, 32, 3) and not clip["labeled"].any()
  assert mixed.train.example(0, seed=0)["labeled"][0]
  (tmp_path / "gap.lst").write_text("\n".join(lines[:20] + lines[21:]) + "\n")  # no box on frame 20
  gap = build.build_data(_config(clip_length=3, unlabeled_lists=(str(tmp_path / "gap.lst"),)))
  assert len(gap.train) - len(stills.train) == 18 + 19  # no clip jumps over the missing frame
  with pytest.raises(ValueError, match="needs clips"):
    build.build_data(_config(clip_length=1, unlabeled_lists=(str(tmp_path / "unlabeled.lst"),)))


class _Numbered(sources.Source):
  """`count` examples that name themselves: {"frames": [tag, index, seed]}."""

  def __init__(self, tag, count):
    self.tag, self.count = tag, count

  def __len__(self):
    return self.count

  def example(self, index, seed=0):
    return {"frames": np.array([self.tag, index, seed]), "labeled": np.array([True, False])}


def test_concat_and_subset_sources_map_indices_across_their_parts():
  concat = sources.ConcatSource([_Numbered(1, 2), _Numbered(2, 0), _Numbered(3, 3)])
  assert len(concat) == 5
  assert [tuple(concat.example(i, 9)["frames"]) for i in range(5)] == [
      (1, 0, 9), (1, 1, 9), (3, 0, 9), (3, 1, 9), (3, 2, 9)]  # the empty part is stepped over
  assert [concat.name(i) for i in range(5)] == ["clip 0", "clip 1", "clip 0", "clip 1", "clip 2"]
  subset = sources.SubsetSource(_Numbered(1, 6), [4, 0])
  assert len(subset) == 2 and [tuple(subset.example(i)["frames"]) for i in range(2)] == [(1, 4, 0), (1, 0, 0)]
  assert [subset.name(i) for i in range(2)] == ["clip 4", "clip 0"]
  partial = sources.PartiallyLabeledSource(_Numbered(1, 2), [False, True])
  assert not partial.example(0)["labeled"].any() and partial.example(1)["labeled"][0]
  assert partial.name(1) == "clip 1"
  with pytest.raises(ValueError, match="label mask"):
    sources.PartiallyLabeledSource(_Numbered(1, 2), [True])


def test_labeled_share_repeats_labeled_clips_with_fresh_augmentation():
  labeled = np.array([True, False, False, False, False, False, False])  # 1 labeled, 6 unlabeled
  repeats = sources.labeled_share_repeats(labeled, 0.5)
  np.testing.assert_array_equal(repeats, [6, 1, 1, 1, 1, 1, 1])  # 6 labeled entries / 12 = 0.5
  np.testing.assert_array_equal(sources.labeled_share_repeats(labeled, 0.25), [2, 1, 1, 1, 1, 1, 1])
  np.testing.assert_array_equal(sources.labeled_share_repeats(np.ones(3, bool), 0.5), [1, 1, 1])
  with pytest.raises(ValueError, match="not in"):
    sources.labeled_share_repeats(labeled, 1.0)
  repeated = sources.RepeatedSource(_Numbered(1, 3), [2, 1, 3])
  assert len(repeated) == 6 and [repeated.name(i) for i in range(6)] == ["clip 0"] * 2 + ["clip 1"] + ["clip 2"] * 3
  # Copy c of example i is example i drawn with seed 3 * seed + c: distinct draws for every (seed, copy).
  assert [tuple(repeated.example(i, 4)["frames"]) for i in range(6)] == [
      (1, 0, 12), (1, 0, 13), (1, 1, 12), (1, 2, 12), (1, 2, 13), (1, 2, 14)]
  with pytest.raises(ValueError, match="at least 1"):
    sources.RepeatedSource(_Numbered(1, 2), [1, 0])


@pytest.mark.skipif(not os.path.isdir(DATA), reason="needs ../shared/data")
def test_labeled_share_makes_the_labeled_clips_that_share_of_the_stream():
  partial = build.build_data(_config(clip_length=2, label_fraction=0.1, label_seed=3))
  shared = build.build_data(_config(clip_length=2, label_fraction=0.1, label_seed=3, labeled_share=0.5))
  labeled = len(partial.labeled_names)
  unlabeled = len(partial.train) - labeled
  repeats = round(unlabeled / labeled)
  assert len(shared.train) == unlabeled + repeats * labeled and shared.partial_labels
  flags = shared.train.source.labeled[shared.train.indices]  # the repeated examples' labels
  assert flags.sum() == repeats * labeled and abs(np.mean(flags) - 0.5) < 0.05
  assert shared.labeled_names == partial.labeled_names
  first = int(np.flatnonzero(flags)[0])  # its copies follow it, each a different augmentation of the same face
  assert shared.train.example(first, 0)["labeled"][0] and shared.train.example(first + 1, 0)["labeled"][0]
  assert shared.train.name(first) == shared.train.name(first + 1)
  assert not np.array_equal(shared.train.example(first, 0)["frames"], shared.train.example(first + 1, 0)["frames"])
  # Nothing to balance: every clip labeled (or single frames, where unlabeled faces are left out).
  assert len(build.build_data(_config(clip_length=2, labeled_share=0.5)).train) == len(partial.train)
  assert len(build.build_data(_config(clip_length=1, label_fraction=0.1, label_seed=3, labeled_share=0.5)).train) == (
      labeled)


def test_flip_test_lhr_averages_a_detection_with_its_mirror_images_mapped_back():
  from tsal_tf.data import schemes
  scheme, stride, size = schemes.scheme_for(68), 4, 32
  rng = np.random.default_rng(3)
  heatmaps = rng.normal(0, 3, size=(4, size // stride, size // stride, 68)).astype(np.float32)  # 2 images + mirrors
  points = _np(decoders.decode_lhr(heatmaps)[0])
  shift = 0.7  # crop pixels
  # The NumPy oracle of evaluation's flip test, in crop pixels: x -> S - 1 - x + shift, left and right swapped.
  crop = decoders.to_crop_coords(points, stride)
  expected = 0.5 * (crop[:2] + schemes.flip_landmarks(crop[2:], size, scheme) + np.array([shift, 0.0]))
  got = _np(decoders.flip_test_lhr(heatmaps, scheme.flip_permutation, mirror_shift=shift / stride))
  np.testing.assert_allclose(decoders.to_crop_coords(got, stride), expected, atol=1e-4)
  # A mirror-equivariant network (its maps of the mirror image are the mirrored, swapped maps): the flip test
  # reads the plain detection.
  mirrored = heatmaps[:2, :, ::-1][..., list(scheme.flip_permutation)]
  equivariant = np.concatenate([heatmaps[:2], mirrored])
  np.testing.assert_allclose(_np(decoders.flip_test_lhr(equivariant, scheme.flip_permutation)), points[:2],
                             atol=1e-4)


def _flip_guide_model(seed=4, async_learning=True):
  """A small TeacherStudent with a flip-test guide whose teacher differs from its student (seeded noise on its
  weights): a guide read from the wrong network shows."""
  import keras
  keras.utils.set_random_seed(seed)
  config = NetworkConfig(input_size=32, widths=(8, 16), head_width=8, flow_widths=(8, 16), flow_scales=2)
  model = TeacherStudent(config, ObjectiveConfig(sic=False, mfds=False), steps_per_epoch=1,
                         async_learning=async_learning, guide_flip_test=True, mirror_shift=0.5)
  rng = np.random.default_rng(seed)
  for weight in model.teacher.trainable_weights:
    weight.assign(_np(weight.value) + 0.05 * rng.normal(size=weight.shape).astype(np.float32))
  return model


def _flip_guide_batch():
  rng = np.random.default_rng(5)
  landmarks = rng.uniform(4, 28, size=(2, 3, 68, 2)).astype(np.float32)
  return {"frames": rng.integers(0, 256, size=(2, 3, 32, 32, 3), dtype=np.uint8), "landmarks": landmarks,
          "labeled": np.array([[True, False, False], [False, False, False]])}


@pytest.mark.parametrize("async_learning", [True, False])
def test_a_flip_test_guide_tracks_unlabeled_clips_from_the_guiding_networks_flip_test(async_learning):
  model = _flip_guide_model(async_learning=async_learning)
  guiding = model.teacher if async_learning else model.student
  assert model.guiding_network() is guiding
  frames, labels, labeled = model.inputs_of(_flip_guide_batch())
  views = _np(model.guide_views(frames))
  np.testing.assert_array_equal(views[:2], _np(frames)[:, 0])
  np.testing.assert_array_equal(views[2:], _np(frames)[:, 0, :, ::-1])
  view_heatmaps = guiding.landmark_net(views, training=False)["heatmaps"]
  outputs = {role: net(frames) for role, net in model.roles()}
  guide = _np(model.tracking_guide(outputs, labels, labeled, view_heatmaps))
  from tsal_tf.data import schemes
  flip_test = _np(decoders.flip_test_lhr(view_heatmaps, schemes.scheme_for(68).flip_permutation,
                                         mirror_shift=0.5 / model.net_config.heatmap_stride))
  np.testing.assert_allclose(guide[0], _np(labels)[0], rtol=1e-6)  # a labeled clip tracks from its label
  np.testing.assert_allclose(guide[1], flip_test[1], rtol=1e-6)
  plain = _np(decoders.decode_lhr(outputs[model.guiding_role()]["heatmaps"][:, 0])[0])
  assert np.abs(guide[1] - plain[1]).max() > 0.1  # not the plain detection
  assert model.guide_views(frames[:, :1]) is None  # single frames track nothing
  model.guide_flip_test = False
  assert model.guide_views(frames) is None


def test_the_train_step_tracks_from_the_flip_test_guide():
  """Teacher L_d of one TensorFlow train step with a flip-test guide = the objective's L_d for that guide (and
  not for the plain detection's); the step sees the pre-step weights."""
  import keras
  oracle, batch = _flip_guide_model(), _flip_guide_batch()
  frames, labels, labeled = oracle.inputs_of(batch)
  weights = oracle.label_weights(labeled)
  view_heatmaps = oracle.teacher.landmark_net(oracle.guide_views(frames), training=False)["heatmaps"]
  outputs = {role: net(frames, training=True) for role, net in oracle.roles()}
  omega = float(_np(oracle.omega_at(0)))
  l_d = {}
  for name, heatmaps in (("flip", view_heatmaps), ("plain", None)):
    guide = oracle.tracking_guide(outputs, labels, labeled, heatmaps)
    l_d[name] = float(_np(oracle.role_terms("teacher", oracle.teacher, outputs["teacher"], frames, labels, weights,
                                            guide, omega)["L_d"]))
  model = _flip_guide_model()  # the same seed: the oracle's weights before its forward passes
  model.compile(keras.optimizers.Adam(1e-3))
  step = float(_np(model.train_step(batch)["teacher/L_d"]))
  assert step == pytest.approx(l_d["flip"], abs=1e-4) and abs(step - l_d["plain"]) > 1e-3, (step, l_d)


JAX_GUIDE = """
import numpy as np
import keras
assert keras.backend.backend() == "jax"
import test_partial_labels as t
from tsal_tf import train_step_jax
for async_learning in (True, False):
  model = t._flip_guide_model(async_learning=async_learning)
  frames, _, _ = model.inputs_of(t._flip_guide_batch())
  got = train_step_jax.guide_view_heatmaps(model, [v.value for v in model.trainable_variables],
                                           [v.value for v in model.non_trainable_variables], frames)
  expected = model.guiding_network().landmark_net(model.guide_views(frames), training=False)["heatmaps"]
  np.testing.assert_allclose(np.asarray(got), np.asarray(expected), atol=1e-5)
print("ok")
"""


def test_the_jax_step_reads_the_guiding_networks_heatmaps_from_its_state():
  pytest.importorskip("jax", reason="JAX is installed by the test extra (bash tools/setup.sh --test)")
  result = runners.run_jax_snippet(JAX_GUIDE)
  assert result.returncode == 0 and result.stdout.split()[-1] == "ok", result.stderr[-3000:]


@pytest.mark.skipif(not os.path.isdir(DATA), reason="needs ../shared/data")
def test_crop_margin_frames_the_training_and_validation_faces():
  # Validation faces: the landmark box's longer side spans S / margin crop pixels. Training crops: the same up
  # to the zoom augmentation (1 +- 0.1), so their mean span is about S / margin.
  spans = {}
  for margin in (1.35, 1.1):
    data = build.build_data(_config(clip_length=1, crop_margin=margin))
    val = data.val_landmarks
    np.testing.assert_allclose((val.max(axis=1) - val.min(axis=1)).max(axis=1), 32 / margin, rtol=1e-4)
    train = np.stack([data.train.example(i, 0)["landmarks"][0] for i in range(40)])
    spans[margin] = (train.max(axis=1) - train.min(axis=1)).max(axis=1).mean()
    assert spans[margin] == pytest.approx(32 / margin, rel=0.04)
  assert spans[1.1] / spans[1.35] == pytest.approx(1.35 / 1.1, rel=0.01)
