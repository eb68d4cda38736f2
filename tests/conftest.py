"""Shared test set-up: 2 logical CPU devices (for MirroredStrategy tests), the real data in ../shared/data, and
one smoke training run per backend that the end-to-end tests share (each costs a process start and a trace),
trained once for all pytest-xdist workers."""

import fcntl
import json
import os
import subprocess

import pytest

import runners

DATA = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))


def _split_cpu():
  import tensorflow as tf
  cpu = tf.config.list_physical_devices("CPU")[0]
  try:
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
  except RuntimeError:  # already initialised by an earlier import
    pass


_split_cpu()


def data_path(*parts):
  path = os.path.join(DATA, *parts)
  if not os.path.exists(path):
    pytest.skip(f"shared data not found at {path}")
  return path


@pytest.fixture(scope="session", autouse=True)
def jax_compilation_cache(tmp_path_factory):
  """One XLA cache for every JAX subprocess of the session (they inherit os.environ): a resumed or repeated run
  loads the programs its predecessor compiled instead of compiling them again."""
  os.environ["JAX_COMPILATION_CACHE_DIR"] = str(tmp_path_factory.mktemp("jax_cache"))
  os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"


@pytest.fixture(scope="session")
def common_set_sample(tmp_path_factory):
  """"<helen>,<lfpw>": the first 12 faces of each half of the 300W common set, linked into folders of the same
  names (a benchmark's end-to-end test needs both subsets, not all 554 faces)."""
  folders = []
  for name in ("300w_helen_test", "300w_lfpw_test"):
    source, folder = data_path(name), tmp_path_factory.mktemp("common") / name
    folder.mkdir()
    stems = sorted(os.path.splitext(f)[0] for f in os.listdir(source) if f.endswith(".pts"))[:12]
    for entry in os.listdir(source):
      if os.path.splitext(entry)[0] in stems:
        os.symlink(os.path.join(source, entry), folder / entry)
    folders.append(str(folder))
  return ",".join(folders)


def _finished(run_dir, result):
  assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
  return run_dir, result


def _run_once(tmp_path_factory, name, train):
  """(run directory, CompletedProcess) of `train(run_dir)`, trained once per test session. Under pytest-xdist
  the workers' base temporary folders share this session's parent folder: the first worker to ask trains there
  while holding a lock, the others wait for it and read its result (a failed run, or one that raised, such as a
  timeout, fails each of them at once)."""
  if "PYTEST_XDIST_WORKER" not in os.environ:  # one process
    run_dir = tmp_path_factory.mktemp(name) / "run"
    return _finished(run_dir, train(run_dir))
  folder = tmp_path_factory.getbasetemp().parent / name
  folder.mkdir(exist_ok=True)
  with open(folder / "lock", "w", encoding="utf-8") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
    record = folder / "result.json"
    if not record.is_file():
      try:
        result = train(folder / "run")
      except Exception as error:  # a timeout, say: recorded, so that every worker fails at once
        result = subprocess.CompletedProcess(name, -1, "", f"{type(error).__name__}: {error}")
      record.write_text(json.dumps({"args": result.args, "returncode": result.returncode, "stdout": result.stdout,
                                    "stderr": result.stderr}))
    result = subprocess.CompletedProcess(**json.loads(record.read_text()))
  return _finished(folder / "run", result)


@pytest.fixture(scope="session")
def smoke_run_tensorflow(tmp_path_factory):
  """(run directory, CompletedProcess) of configs/smoke.flags (2 epochs x 3 steps) with 2 data workers under
  TensorFlow. Read-only: a test that writes to a run copies it first."""
  return _run_once(tmp_path_factory, "smoke_tensorflow",
                   lambda run_dir: runners.train(run_dir, *runners.SMOKE_RUN_FLAGS["tensorflow"]))


@pytest.fixture(scope="session")
def smoke_run_jax(tmp_path_factory):
  """The same run under KERAS_BACKEND=jax with TensorFlow hidden, as on the GPU machine, after 4 steps of motion
  pre-training (read-only)."""
  pytest.importorskip("jax", reason="JAX is installed by the test extra (bash tools/setup.sh --test)")
  return _run_once(tmp_path_factory, "smoke_jax",
                   lambda run_dir: runners.train_without_tensorflow(run_dir, *runners.SMOKE_RUN_FLAGS["jax"]))
