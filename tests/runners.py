"""How the tests start the project's programs: the repository root, the smoke config and `tsal_tf.train` in a
process of its own (under either Keras backend, or under JAX with TensorFlow hidden, as on the GPU machine), and
test code under JAX."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMOKE = os.path.join(ROOT, "configs", "smoke.flags")
# The flags of conftest's shared smoke run per backend, added to configs/smoke.flags: 2 data workers, and under
# JAX 4 steps of motion pre-training first (test_motion_pretrain reads its log).
SMOKE_RUN_FLAGS = {"tensorflow": ("--workers=2",), "jax": ("--workers=2", "--motion_pretrain_steps=4")}


def train(run_dir, *extra, wait=True, backend="tensorflow"):
  """`python -m tsal_tf.train --flagfile=configs/smoke.flags --run_dir=<run_dir> <extra>`: its CompletedProcess,
  or with wait=False the running Popen (stdout and stderr merged)."""
  command = [sys.executable, "-m", "tsal_tf.train", f"--flagfile={SMOKE}", f"--run_dir={run_dir}", *extra]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND=backend, JAX_PLATFORMS="cpu")
  if not wait:
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
  return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


WITHOUT_TENSORFLOW = """
import importlib.abc, importlib.util, runpy, sys
class Hide(importlib.abc.MetaPathFinder):  # the GPU machine: JAX and Keras, no TensorFlow
  def find_spec(self, name, path, target=None):
    if name.split(".")[0] in ("tensorflow", "tensorboard"):
      raise ModuleNotFoundError(f"No module named {name!r}")
sys.meta_path.insert(0, Hide())
find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, package=None: (
    None if name.split(".")[0] in ("tensorflow", "tensorboard") else find_spec(name, package))
sys.argv = ["train"] + sys.argv[1:]
runpy.run_module("tsal_tf.train", run_name="__main__")
"""


def train_without_tensorflow(run_dir, *extra):
  """`train` under JAX with TensorFlow hidden (every import of tensorflow or tensorboard fails)."""
  env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", PYTHONPATH=ROOT)
  return subprocess.run([sys.executable, "-c", WITHOUT_TENSORFLOW, f"--flagfile={SMOKE}", f"--run_dir={run_dir}",
                         *extra], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


def run_jax_snippet(code, cwd=ROOT, timeout=600):
  """Run Python `code` in `cwd` under KERAS_BACKEND=jax on the CPU, with the repository and tests/ importable (test
  modules share their oracles with it); its CompletedProcess."""
  tests = os.path.join(ROOT, "tests")
  env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3",
             PYTHONPATH=os.pathsep.join([ROOT, tests]))
  return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                        timeout=timeout)
