"""One model, two backends: the same weights give the same outputs under TensorFlow and JAX (within 1e-4)."""

import os
import subprocess
import sys

import numpy as np
import pytest

from tsal_tf.model import network
from tsal_tf.model.config import NetworkConfig

from runners import ROOT
CONFIG = NetworkConfig(input_size=32, widths=(8, 16), head_width=8, flow_widths=(8, 16), flow_scales=2)

JAX_SIDE = """
import sys, numpy as np
import keras
assert keras.backend.backend() == "jax", keras.backend.backend()
from tsal_tf.model import network, decoders
from tsal_tf.model.config import NetworkConfig
from tsal_tf import objective
config = NetworkConfig(input_size=32, widths=(8, 16), head_width=8, flow_widths=(8, 16), flow_scales=2)
net = network.build_network(config, "teacher")
net.load_weights(sys.argv[1])
frames = np.load(sys.argv[2])
outputs = net(frames)
p_m, p_c, offsets = objective.decode_all(outputs)
labels = np.load(sys.argv[3])
terms = objective.network_objective(outputs, frames, labels, 0.5, "student", objective.ObjectiveConfig())
np.savez(sys.argv[4], heatmaps=np.asarray(outputs["heatmaps"]), centre=np.asarray(outputs["centre"]),
         offsets=np.asarray(outputs["offsets"]), flow=np.asarray(outputs["flows"][0]), p_m=np.asarray(p_m),
         p_c=np.asarray(p_c), total=np.asarray(terms["total"]))
"""


def test_same_weights_same_outputs_under_tensorflow_and_jax(tmp_path):
  pytest.importorskip("jax", reason="JAX is installed by the test extra (bash tools/setup.sh --test)")
  from tsal_tf import objective
  net = network.build_network(CONFIG, "teacher")
  weights = str(tmp_path / "teacher.weights.h5")
  net.save_weights(weights)
  rng = np.random.default_rng(0)
  frames = rng.uniform(0, 1, (2, 3, 32, 32, 3)).astype(np.float32)
  labels = rng.uniform(2, 14, (2, 68, 2)).astype(np.float32)
  np.save(tmp_path / "frames.npy", frames)
  np.save(tmp_path / "labels.npy", labels)
  env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3")
  result = subprocess.run([sys.executable, "-c", JAX_SIDE, weights, str(tmp_path / "frames.npy"),
                           str(tmp_path / "labels.npy"), str(tmp_path / "jax.npz")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  jax_out = np.load(tmp_path / "jax.npz")
  outputs = net(frames)
  p_m, p_c, _ = objective.decode_all(outputs)   # TF side: the custom ops when built
  terms = objective.network_objective(outputs, frames, labels, 0.5, "student", objective.ObjectiveConfig())
  tf_out = {"heatmaps": outputs["heatmaps"], "centre": outputs["centre"], "offsets": outputs["offsets"],
            "flow": outputs["flows"][0], "p_m": p_m, "p_c": p_c, "total": terms["total"]}
  for name, value in tf_out.items():
    np.testing.assert_allclose(np.asarray(value), jax_out[name], atol=1e-4, rtol=1e-4, err_msg=name)
