"""benchmarks/video_sparse_labels.py on the real AFEW-VA clip with a tiny untrained run: rows, report, oracle."""

import csv
import os
import sys

import numpy as np
from conftest import data_path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from benchmarks import video_sparse_labels  # noqa: E402


def _tiny_run(run_dir):
  from tsal_tf import checkpoints
  from tsal_tf.model import network
  from tsal_tf.model.config import NetworkConfig
  config = NetworkConfig(input_size=32, widths=(8, 16), head_width=8, flow_widths=(8, 16), flow_scales=2)
  net = network.build_network(config, "student")
  os.makedirs(run_dir)
  with open(os.path.join(run_dir, "flags.txt"), "w") as f:
    f.write("--input_size=32\n--heatmap_stride=2\n--widths=8,16\n--head_width=8\n--flow_widths=8,16\n"
            "--flow_scales=2\n--noasync_learning\n--gamma=1.0\n")
  checkpoints.save(os.path.join(run_dir, "checkpoints", "ckpt-1.npz"), {"student": net.weights})
  return net


def test_per_frame_rows_report_and_the_tracking_oracle(tmp_path, monkeypatch):
  video = data_path("video_afewva", "001")
  net = _tiny_run(str(tmp_path / "run"))
  report = str(tmp_path / "report" / "clip")
  monkeypatch.setattr(sys, "argv", ["video_sparse_labels.py", f"--video={video}", f"--runs=tiny={tmp_path / 'run'}",
                                    "--label_stride=10", f"--report={report}"])
  video_sparse_labels.main()
  with open(report + ".csv", encoding="utf-8") as f:
    rows = list(csv.DictReader(f))
  assert len(rows) == 42 and [r["frame"] for r in rows] == [str(i) for i in range(42)]
  assert [int(r["labeled"]) for r in rows] == [int(i % 10 == 0) for i in range(42)]
  # Tracking starts from the label: zero error on the labeled frames, an error on the others.
  assert all(float(r["tracking"]) == 0.0 for r in rows if r["labeled"] == "1")
  assert all(float(r["tracking"]) > 0.0 for r in rows if r["labeled"] == "0")
  assert "| tiny |" in open(report + ".md", encoding="utf-8").read() and os.path.getsize(report + ".png") > 0
  # Tracking of frames 1..9 equals a NumPy chain of the flow through the segment, mapped back to the image.
  from tsal_tf import evaluation, metrics
  from tsal_tf.data import augment, formats, schemes, sources
  frames = formats.load_300vw(os.path.dirname(video), ["001"])["001"]
  transform = augment.centre_transform(augment.source_box(frames[0].landmarks), 32, augment.NO_AUGMENT.crop_margin)
  crops = np.stack([augment.warp_image(sources.read_frame(f), transform) for f in frames[:10]])
  tracked = evaluation.track_clips(net, crops[None], augment.source_to_crop(frames[0].landmarks, transform,
                                                                           schemes.IBUG68)[None])[0]
  expected = metrics.per_face_nme(augment.crop_to_source(tracked, transform, schemes.IBUG68),
                                  np.stack([f.landmarks for f in frames[:10]]), "inter_ocular")
  np.testing.assert_allclose([float(r["tracking"]) for r in rows[1:10]], 100 * expected[1:], atol=2e-3)
