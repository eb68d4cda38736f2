"""tsal_tf.tools.pseudo_label: a 300W folder whose .pts are a run's predictions, kept annotations untouched."""

import os

import numpy as np
import pytest

from tsal_tf import evaluation, metrics, runs
from tsal_tf.data import augment, formats, schemes, sources
from tsal_tf.model.config import NetworkConfig
from tsal_tf.tools import pseudo_label

from conftest import data_path


class _Net:
  config = NetworkConfig(input_size=64, crop_margin=1.1)


def test_crop_predictions_map_back_to_the_source_annotation(monkeypatch):
  # A "network" that predicts every face's true crop landmarks must give back the .pts files' own points; its
  # flip-test view is shifted by d_i crop pixels in x, so that the mirror image's view is 2 d_i away.
  samples = formats.load_pts_folder(data_path("300w_lfpw_test"))[:5]
  crops = sources.ImageSource(samples, 64, schemes.IBUG68, augment.AugmentConfig(crop_margin=1.1))
  annotations = np.stack([s.landmarks for s in samples])
  shifts = [0.5, 0.0, 1.5, 0.25, 3.0]
  served = []  # the faces the stand-in has predicted, in order

  def predict_images_plain_and_flip_test(net, images, gamma, mirror_shift):
    faces = range(len(served), len(served) + len(images))
    served.extend(faces)
    plain = np.stack([crops.example(i)["landmarks"] for i in faces])
    return {"fused": plain}, {"fused": plain + np.array([[[shifts[i], 0.0]] for i in faces])}

  monkeypatch.setattr(evaluation, "predict_images_plain_and_flip_test", predict_images_plain_and_flip_test)
  points, disagreement = pseudo_label.predict_source_landmarks(_Net(), samples, 1.0, False, 0.0, batch_size=2)
  np.testing.assert_allclose(points, annotations, atol=1e-3)
  np.testing.assert_allclose(disagreement, [1.0, 0.0, 3.0, 0.5, 6.0], atol=1e-5)
  # With the flip test the written points are the two views' average: x moved right by the face's shift (scaled
  # from crop to source pixels), y where it was.
  served.clear()
  flipped, _ = pseudo_label.predict_source_landmarks(_Net(), samples, 1.0, True, 0.0, batch_size=2)
  moved = flipped - annotations
  np.testing.assert_allclose(moved[..., 1], 0.0, atol=1e-3)
  for face, shift in enumerate(shifts):
    np.testing.assert_allclose(moved[face, :, 0], moved[face, 0, 0], atol=1e-3)  # one shift for the whole face
    assert (moved[face, 0, 0] > 0.1 * shift) if shift else abs(moved[face, 0, 0]) < 1e-3


def test_rank_correlation_is_spearmans_rho():
  a = np.array([0.3, 0.1, 0.9, 0.5, 0.7])
  assert pseudo_label.rank_correlation(a, a ** 3) == pytest.approx(1.0)
  assert pseudo_label.rank_correlation(a, -a) == pytest.approx(-1.0)
  # ranks 1 0 4 2 3 against 0 1 2 3 4: rho = 1 - 6 sum d^2 / (n (n^2 - 1)) = 1 - 6 * 8 / 120 = 0.6
  assert pseudo_label.rank_correlation(a, np.arange(5.0)) == pytest.approx(0.6)


def test_faces_that_would_share_an_output_name_are_refused():
  faces = [formats.FaceSample("a/train/x.jpg"), formats.FaceSample("b/train/x.jpg"), formats.FaceSample("y.jpg")]
  assert pseudo_label.output_names(faces[1:], ["train", "train"]) == ["train_x", "train_y"]
  with pytest.raises(ValueError, match="1 faces would share an output name \\(e.g. train_x\\)"):
    pseudo_label.output_names(faces, ["train", "train", "train"])


@pytest.mark.slow
def test_the_folder_keeps_listed_annotations_and_labels_the_rest(smoke_run_tensorflow, common_set_sample, tmp_path,
                                                                 monkeypatch):
  run_dir, _ = smoke_run_tensorflow
  folders = common_set_sample.split(",")
  samples, subsets = formats.load_pts_folders(folders)
  keep = tmp_path / "labeled.txt"  # paths relative to the current directory, as a run's labeled.txt
  monkeypatch.chdir(os.path.dirname(folders[0]))
  keep.write_text("".join(f"{os.path.relpath(samples[i].image_path)}\n" for i in (0, 5, 20)))
  out_dir = tmp_path / "pseudo"
  nme, count = pseudo_label.pseudo_label(str(run_dir), folders, str(out_dir), str(keep), flip_test=False,
                                         kept_copies=2)

  written = formats.load_pts_folder(str(out_dir))
  by_name = {os.path.basename(s.image_path): s for s in written}
  assert count == len(samples) - 3 and len(written) == len(samples) + 3  # a second copy of each kept face
  assert not (tmp_path / "pseudo.partial").exists()
  teacher, _, run_flags = runs.load_networks(str(run_dir))
  others = [s for i, s in enumerate(samples) if i not in (0, 5, 20)]
  expected, disagreement = pseudo_label.predict_source_landmarks(teacher, others, float(run_flags.get("gamma", 0.8)),
                                                                 False, 0.0)
  for i, (sample, subset) in enumerate(zip(samples, subsets)):
    copy = by_name[f"{subset}_{os.path.basename(sample.image_path)}"]
    assert os.path.realpath(copy.image_path) == os.path.realpath(sample.image_path)
    if i in (0, 5, 20):
      np.testing.assert_allclose(copy.landmarks, sample.landmarks, atol=1e-3)
      stem, ext = os.path.splitext(os.path.basename(copy.image_path))
      second = by_name[f"{stem}_copy1{ext}"]
      assert os.path.realpath(second.image_path) == os.path.realpath(sample.image_path)
      np.testing.assert_array_equal(second.landmarks, copy.landmarks)
    else:
      np.testing.assert_allclose(copy.landmarks, expected[others.index(sample)], atol=1e-3)
      assert not np.allclose(copy.landmarks, sample.landmarks, atol=1.0)  # a 32-px smoke model is far off
  truth = np.stack([s.landmarks for s in others])
  assert nme == pytest.approx(metrics.per_face_nme(expected, truth).mean(), rel=1e-5)

  # keep_agreeing: only the run-labeled faces whose views agree best are written, the kept ones all.
  nme_best, count_best = pseudo_label.pseudo_label(str(run_dir), folders, str(tmp_path / "best"), str(keep),
                                                   flip_test=False, keep_agreeing=0.25)
  best = np.sort(np.argsort(disagreement, kind="stable")[:round(0.25 * len(others))])
  written = {os.path.basename(s.image_path) for s in formats.load_pts_folder(str(tmp_path / "best"))}
  assert count_best == len(best) and len(written) == len(best) + 3
  other_index = [i for i in range(len(samples)) if i not in (0, 5, 20)]
  names = [f"{subset}_{os.path.basename(s.image_path)}" for s, subset in zip(samples, subsets)]
  assert written == {names[i] for i in [other_index[j] for j in best] + [0, 5, 20]}
  assert nme_best == pytest.approx(metrics.per_face_nme(expected[best], truth[best]).mean(), rel=1e-5)

  with pytest.raises(ValueError, match="exists"):
    pseudo_label.pseudo_label(str(run_dir), folders, str(out_dir), str(keep))
  keep.write_text(f"{samples[0].image_path}\n/nowhere/face.jpg\n")
  with pytest.raises(ValueError, match="1 of its 2 images are not faces of the data folders"):
    pseudo_label.pseudo_label(str(run_dir), folders, str(tmp_path / "other"), str(keep))
  assert not (tmp_path / "other").exists()
