"""prepare: own videos -> SBR training list (boxes from labels, the detector, interpolation and smoothing)."""

import json
import os

import numpy as np
import pytest

from tsal_tf import prepare
from tsal_tf.data import formats, sources
from conftest import data_path


def test_interpolation_fills_short_gaps_only():
  boxes = [(0, 0, 10, 10), None, None, (3, 3, 13, 13), None, None, None, None, (0, 0, 1, 1)]
  filled = prepare.interpolate_boxes(boxes, max_gap=2)
  np.testing.assert_allclose(filled[1], (1, 1, 11, 11))
  np.testing.assert_allclose(filled[2], (2, 2, 12, 12))
  assert filled[4] is None  # 4 missing frames > max_gap: reported as skipped, never guessed


def test_smoothing_is_a_centred_moving_average():
  boxes = [(0, 0, 0, 0), (3, 3, 3, 3), (6, 6, 6, 6), None]
  smoothed = prepare.smooth_boxes(boxes, window=3)
  np.testing.assert_allclose(smoothed[1], (3, 3, 3, 3))
  np.testing.assert_allclose(smoothed[0], (1.5, 1.5, 1.5, 1.5))
  assert smoothed[3] is None


def test_300vw_sample_becomes_a_list_the_trainer_reads(tmp_path):
  report = prepare.prepare(data_path("300vw_sample"), str(tmp_path), label_stride=2)
  assert report["001"]["labels_kept"] == 1 and report["001"]["listed"] == 2
  samples = formats.read_list_file(str(tmp_path / "train.lst"))
  assert len(samples) == 4 and sum(s.labeled for s in samples) == 2
  assert (tmp_path / "contact_sheet.png").read_bytes()[:4] == b"\x89PNG"
  # The trainer's list path groups frames into videos and starts clips at labeled frames.
  videos = {}
  for sample in samples:
    videos.setdefault(os.path.dirname(sample.image_path), []).append(sample)
  clips = sources.VideoClipSource(videos, 32, 2, sources.scheme_of(samples), label_stride=1)
  assert len(clips) == 2 and clips.example(0)["frames"].shape == (2, 32, 32, 3)


def test_real_video_gets_detector_boxes(tmp_path):
  video_dir = tmp_path / "videos"
  video_dir.mkdir()
  os.symlink(data_path("video", "demo-sbr.mp4"), video_dir / "demo-sbr.mp4")
  report = prepare.prepare(str(video_dir), str(tmp_path / "out"), max_frames=12)
  entry = report["demo-sbr"]
  assert entry["frames"] == 12 and entry["listed"] == 12 and entry["detected"] >= 10
  lines = (tmp_path / "out" / "train.lst").read_text().splitlines()
  x1, y1, x2, y2 = map(float, lines[0].split()[2:6])
  assert 0 <= x1 < x2 <= 450 and 0 <= y1 < y2 <= 680 and x2 - x1 > 100  # a face-sized box in a 450x680 frame
  assert json.loads((tmp_path / "out" / "prepare_report.json").read_text())["demo-sbr"]["skipped_no_face"] == []


def test_missing_folder_is_a_clear_error(tmp_path):
  with pytest.raises(FileNotFoundError, match="not a folder"):
    prepare.prepare(str(tmp_path / "nope"), str(tmp_path / "out"))
