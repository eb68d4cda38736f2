import os

import numpy as np
import pytest

from tsal_tf.data import formats
from conftest import data_path


def test_every_300w_face_loads_without_error():
  total = 0
  for folder in ("300w_helen_train", "300w_helen_test", "300w_originals_sample"):
    report = formats.LoadReport()
    samples = formats.load_pts_folder(data_path(folder), skip_bad=True, report=report)
    assert report.skipped == [], str(report)
    assert all(s.landmarks.shape == (68, 2) for s in samples)
    total += len(samples)
  samples = formats.load_coco_json(data_path("other_benchmarks_samples", "300w", "test_300w.json"))
  total += len(samples)
  assert total == 870 + 330 + 5 + 2


def test_pts_is_converted_to_zero_based(tmp_path):
  path = tmp_path / "a.pts"
  body = "\n".join(f"{i + 1} {2 * i + 1}" for i in range(68))
  path.write_text(f"version: 1\nn_points: 68\n{{\n{body}\n}}\n")
  points = formats.read_pts(str(path))
  np.testing.assert_allclose(points[5], [5, 10])
  # Headerless variant (300w_originals_sample) with CRLF endings reads the same.
  path.write_bytes(body.replace("\n", "\r\n").encode())
  np.testing.assert_allclose(formats.read_pts(str(path)), points)


def test_pts_text_is_one_based_and_reads_back(tmp_path):
  points = np.tile(np.array([[0.0, 1.5], [10.25, 3.0]], np.float32), (34, 1))  # 68 points
  text = formats.pts_text(points)
  assert text.startswith("version: 1\nn_points: 68\n{\n1.000 2.500\n11.250 4.000\n1.000 2.500\n")
  assert text.endswith("11.250 4.000\n}\n")
  (tmp_path / "face.pts").write_text(text)
  np.testing.assert_array_equal(formats.read_pts(str(tmp_path / "face.pts")), points)


def test_crop_landmarks_match_the_documented_processing():
  # The crops were made from the originals: u = (x - x0 + 0.5) * 256 / side - 0.5 (0-based).
  original = formats.read_pts(data_path("300w_originals_sample", "1142136696_1.pts"))
  crop = formats.read_pts(data_path("300w_helen_train", "1142136696_1.pts"))
  box_min, box_max = original.min(0), original.max(0)
  side = round(2.0 * max(box_max - box_min))
  x0 = np.round((box_min + box_max) / 2 - side / 2)
  np.testing.assert_allclose((original - x0 + 0.5) * 256 / side - 0.5, crop, atol=0.02)


def test_300vw_frames_load_with_their_annotations():
  videos = formats.load_300vw(data_path("300vw_sample"))
  assert sorted(videos) == ["001", "401"]
  frames = [s for v in videos.values() for s in v]
  assert len(frames) == 4
  assert [s.frame_index for s in videos["001"]] == [5, 8]
  assert all(os.path.isfile(s.image_path) and s.landmarks.shape == (68, 2) for s in frames)
  # mmpose's COCO index of the same frames copies the 1-based .pts numbers verbatim.
  coco = formats.load_coco_json(data_path("300vw_sample", "anno_300vw.json"), one_based=True)
  by_path = {os.path.normpath(s.image_path): s for s in coco}
  first = videos["001"][0]
  np.testing.assert_allclose(by_path[os.path.normpath(first.image_path)].landmarks, first.landmarks, atol=1e-3)


def test_aflw_samples_have_19_points_and_a_face_size():
  samples = formats.load_coco_json(data_path("other_benchmarks_samples", "aflw", "test_aflw.json"))
  assert len(samples) == 2
  assert all(s.landmarks.shape == (19, 2) and s.face_size > 0 for s in samples)
  assert all(os.path.isfile(s.image_path) for s in samples)


def _write(tmp_path, name, text):
  path = tmp_path / name
  path.write_text(text)
  return str(path)


def test_truncated_pts_names_file_and_line(tmp_path):
  body = "\n".join("1 2" for _ in range(40))
  path = _write(tmp_path, "t.pts", f"version: 1\nn_points: 68\n{{\n{body}\n")
  with pytest.raises(formats.AnnotationError, match=r"t\.pts:43: truncated"):
    formats.read_pts(path)


def test_67_points_is_refused(tmp_path):
  path = _write(tmp_path, "s.pts", "\n".join("1 2" for _ in range(67)))
  with pytest.raises(formats.AnnotationError, match=r"s\.pts: 67 points"):
    formats.read_pts(path)


def test_nan_coordinate_names_the_line(tmp_path):
  lines = ["1 2"] * 68
  lines[10] = "nan 3"
  path = _write(tmp_path, "n.pts", "\n".join(lines))
  with pytest.raises(formats.AnnotationError, match=r"n\.pts:11: non-finite"):
    formats.read_pts(path)


def test_unreadable_image_is_a_clear_error(tmp_path):
  path = _write(tmp_path, "broken.jpg", "this is not a jpeg")
  with pytest.raises(formats.ImageReadError, match="broken.jpg: cannot decode"):
    formats.read_image(path)
  with pytest.raises(formats.ImageReadError, match="not found"):
    formats.read_image(str(tmp_path / "missing.jpg"))


def test_tolerant_loader_reports_what_it_skipped(tmp_path):
  good = "\n".join("1 2" for _ in range(68))
  _write(tmp_path, "a.pts", good)
  _write(tmp_path, "b.pts", good[:-4])
  import cv2
  for name in ("a.jpg", "b.jpg"):
    cv2.imwrite(str(tmp_path / name), np.zeros((8, 8, 3), np.uint8))
  with pytest.raises(formats.AnnotationError):
    formats.load_pts_folder(str(tmp_path))
  report = formats.LoadReport()
  samples = formats.load_pts_folder(str(tmp_path), skip_bad=True, report=report)
  assert len(samples) == 1 and len(report.skipped) == 1 and report.skipped[0][0].endswith("b.pts")
  assert "skipped 1" in str(report)


def test_list_file_round_trip_with_unlabeled_frames(tmp_path):
  folder = data_path("300w_helen_test")
  samples = formats.load_pts_folder(folder)[:3]
  samples[1] = formats.FaceSample(samples[1].image_path, None, box=(10, 20, 110, 140))
  annotations = [samples[0].image_path[:-4] + ".pts", None, samples[2].image_path[:-4] + ".pts"]
  samples[0].box = (1.5, 2.5, 100.0, 120.0)
  list_path = str(tmp_path / "train.lst")
  formats.write_list_file(list_path, samples, annotations)
  back = formats.read_list_file(list_path)
  assert [s.labeled for s in back] == [True, False, True]
  np.testing.assert_allclose(back[0].landmarks, samples[0].landmarks)
  assert back[1].box == (10, 20, 110, 140) and back[0].box == (1.5, 2.5, 100.0, 120.0)


def test_list_file_errors_name_the_line(tmp_path):
  path = _write(tmp_path, "bad.lst", "img.jpg None 1 2 3\n")
  with pytest.raises(formats.AnnotationError, match=r"bad\.lst:1: expected 'image annotation"):
    formats.read_list_file(path)
