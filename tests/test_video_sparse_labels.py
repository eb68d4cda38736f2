"""benchmarks/video_sparse_labels.py on the real AFEW-VA clip with a tiny untrained run: rows, report, oracle."""

import csv
import os
import sys

import numpy as np
from conftest import data_path

from runners import ROOT
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
  # Tracking of frames 1..9: a NumPy chain of the network's flow from frame 0's label, back to the image.
  from keras import ops
  from tsal_tf.data import augment, formats, sources
  frames = formats.load_300vw(os.path.dirname(video), ["001"])["001"]
  truth = np.stack([f.landmarks for f in frames[:10]]).astype(np.float64)
  transform = augment.centre_transform(augment.source_box(frames[0].landmarks), 32, net.config.crop_margin)
  crops = np.stack([augment.warp_image(sources.read_frame(f), transform) for f in frames[:10]])
  flows = ops.convert_to_numpy(net(crops[None].astype(np.float32) / 255.0)["flows"][0])[0]  # [9, 16, 16, 2]
  matrix = transform.matrix
  points = [(truth[0] @ matrix[:, :2].T + matrix[:, 2] + 0.5) / 2.0 - 0.5]  # heatmap pixels (stride 2)
  for flow in flows:
    x, y = np.clip(points[-1][:, 0], 0, 15), np.clip(points[-1][:, 1], 0, 15)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    x1, y1, fx, fy = np.minimum(x0 + 1, 15), np.minimum(y0 + 1, 15), (x - x0)[:, None], (y - y0)[:, None]
    step = ((1 - fy) * ((1 - fx) * flow[y0, x0] + fx * flow[y0, x1]) + fy * ((1 - fx) * flow[y1, x0]
                                                                             + fx * flow[y1, x1]))
    points.append(points[-1] + step)
  crop_points = (np.stack(points) + 0.5) * 2.0 - 0.5
  inverse = np.linalg.inv(np.vstack([matrix, [0, 0, 1]]))[:2]
  source_points = crop_points @ inverse[:, :2].T + inverse[:, 2]
  eyes = np.linalg.norm(truth[:, 36] - truth[:, 45], axis=-1)
  expected = 100 * np.linalg.norm(source_points - truth, axis=-1).mean(axis=-1) / eyes
  np.testing.assert_allclose([float(r["tracking"]) for r in rows[1:10]], expected[1:], atol=2e-3)
