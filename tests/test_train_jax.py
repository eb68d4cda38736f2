"""The JAX path: 2 training steps under KERAS_BACKEND=jax, then the weights load and run under TensorFlow."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.slow


def test_jax_training_weights_load_under_tensorflow(tmp_path):
  pytest.importorskip("jax", reason="JAX is installed by the test extra (bash tools/setup.sh --test)")
  run_dir = tmp_path / "run"
  env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3")
  result = subprocess.run([sys.executable, "-m", "tsal_tf.train_jax", f"--flagfile={ROOT}/configs/smoke.flags",
                           f"--run_dir={run_dir}", "--epochs=1", "--steps_per_epoch=2", "--workers=2"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
  assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
  final = json.loads((run_dir / "final_validation.json").read_text())
  assert final["backend"] == "jax" and final["step"] == 2
  from tsal_tf.runs import load_networks
  from tsal_tf.evaluation import predict_images
  teacher, student, _ = load_networks(str(run_dir))
  images = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3)).astype(np.uint8)
  assert np.isfinite(predict_images(teacher, images)["fused"]).all()
  # The saved teacher differs from the student: eq. 8 ran in the JAX step.
  assert any(not np.array_equal(t.numpy(), s.numpy()) for t, s in zip(teacher.weights, student.weights))


def test_jax_single_model_time_limit_and_loading(tmp_path):
  """A supervised single-frame run stops at --max_train_minutes, saves only the student, loads as teacher."""
  pytest.importorskip("jax", reason="JAX is installed by the test extra (bash tools/setup.sh --test)")
  run_dir = tmp_path / "single"
  env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3")
  result = subprocess.run([sys.executable, "-m", "tsal_tf.train_jax", f"--flagfile={ROOT}/configs/smoke.flags",
                           f"--run_dir={run_dir}", "--epochs=2", "--steps_per_epoch=3", "--workers=2",
                           "--clip_length=1", "--noasync_learning", "--nosic", "--nomfds",
                           "--max_train_minutes=1e-6"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900)
  assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
  final = json.loads((run_dir / "final_validation.json").read_text())
  assert final["step"] == 1 and final["planned_steps"] == 6  # stopped after the first step
  assert "val/student/tracking_nme" in final["after"]  # validation tracks 2-frame clips for K = 1 training
  assert sorted(p.name for p in run_dir.glob("*.weights.h5")) == ["student.weights.h5"]
  from tsal_tf.runs import load_networks
  teacher, student, _ = load_networks(str(run_dir))
  assert teacher is student
