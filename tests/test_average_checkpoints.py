"""benchmarks/average_checkpoints.py: the averaged network holds the mean of the chosen checkpoints' weights."""

import sys

import numpy as np
import pytest

from runners import ROOT
sys.path.insert(0, ROOT)
from benchmarks import average_checkpoints  # noqa: E402
from tsal_tf import checkpoints  # noqa: E402
from tsal_tf.model import network  # noqa: E402
from tsal_tf.runs import network_config_from, read_run_flags  # noqa: E402

FLAGS = ["--input_size=32", "--heatmap_stride=4", "--widths=8,16", "--head_width=8", "--flow_widths=8,16",
         "--flow_scales=2"]


def _single_model_run(tmp_path, values):
  """A run directory of a single model (no teacher) with one checkpoint per {step: constant weight value}."""
  (tmp_path / "flags.txt").write_text("".join(f"{f}\n" for f in FLAGS + ["--noasync_learning"]))
  net = network.build_network(network_config_from(read_run_flags(str(tmp_path))), "student")
  for step, value in values.items():
    for i, weight in enumerate(net.weights):
      weight.assign(np.full(weight.shape, value + i, np.float32))
    checkpoints.save(str(tmp_path / "checkpoints" / f"ckpt-{step}.npz"), {"student": net.weights})


def test_average_of_two_checkpoints_is_their_mean(tmp_path):
  (tmp_path / "checkpoints").mkdir()
  _single_model_run(tmp_path, {10: 1.0, 20: 4.0, 30: 10.0})
  net, _ = average_checkpoints.averaged_network(str(tmp_path), [10, 20, 30], "student")
  for i, weight in enumerate(net.weights):
    np.testing.assert_allclose(np.asarray(weight.value), 5.0 + i, rtol=1e-6, err_msg=weight.path)
  with pytest.raises(SystemExit, match="without a teacher"):
    average_checkpoints.averaged_network(str(tmp_path), [10], "teacher")
  with pytest.raises(SystemExit, match="ckpt-40.npz: no such checkpoint"):
    average_checkpoints.averaged_network(str(tmp_path), [40], "student")
