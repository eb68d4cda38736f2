"""The one driver under KERAS_BACKEND=jax: training, the time cap, loading and evaluating under either backend
(the exact resume after a kill is tests/test_train.py::test_kill_and_resume_continues_exactly[jax])."""

import json

import numpy as np
import pytest

from runners import run_jax_snippet, train

pytestmark = pytest.mark.slow
jax = pytest.importorskip("jax", reason="JAX is installed by the test extra (bash tools/setup.sh --test)")


def test_jax_training_loads_under_tensorflow(smoke_run_jax):
  run_dir, _ = smoke_run_jax
  final = json.loads((run_dir / "final_validation.json").read_text())
  assert final["backend"] == "jax" and final["step"] == 6
  from tsal_tf.evaluation import predict_images
  from tsal_tf.runs import load_networks
  teacher, student, _ = load_networks(str(run_dir))
  images = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3)).astype(np.uint8)
  assert np.isfinite(predict_images(teacher, images)["fused"]).all()
  assert any(not np.array_equal(t.numpy(), s.numpy()) for t, s in zip(teacher.weights, student.weights))


def test_jax_single_model_time_limit_and_loading(tmp_path):
  """A supervised single-frame run stops at --max_train_minutes after its first step and loads as teacher."""
  run_dir = tmp_path / "single"
  result = train(run_dir, "--epochs=2", "--steps_per_epoch=3", "--workers=2", "--clip_length=1",
                 "--noasync_learning", "--nosic", "--nomfds", "--max_train_minutes=1e-6", backend="jax")
  assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
  final = json.loads((run_dir / "final_validation.json").read_text())
  assert final["step"] == 1 and final["planned_steps"] == 6
  assert "val/student/tracking_nme" in final["after"]  # validation tracks 2-frame clips for K = 1 training
  from tsal_tf.runs import load_networks
  teacher, student, _ = load_networks(str(run_dir))
  assert teacher is student


def test_worker_processes_train_on_the_same_batches_as_worker_threads(tmp_path):
  """--worker_processes changes where batches are made, not which: the two runs end with equal validations."""
  common = ("--epochs=1", "--steps_per_epoch=3", "--workers=2", "--clip_length=1", "--noasync_learning", "--nosic",
            "--nomfds")
  finals = []
  for name, extra in (("threads", ()), ("processes", ("--worker_processes",))):
    result = train(tmp_path / name, *common, *extra, backend="jax")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    finals.append(json.loads((tmp_path / name / "final_validation.json").read_text()))
  assert finals[0]["step"] == finals[1]["step"] == 3
  assert finals[0]["after"] == finals[1]["after"] and finals[0]["after"] != finals[0]["before"]
  from tsal_tf.data import pydataset, sources
  source = sources.SyntheticClipSource(4, 32, 1)
  assert [pydataset.SourceBatches(source, 2, 1, workers=2, processes=p).use_multiprocessing
          for p in (False, True)] == [False, True]
  assert pydataset.SourceBatches(source, 2, 1, workers=16).max_queue_size == 32  # every worker has a batch to make


def test_jax_training_runs_where_tensorflow_is_not_installed(smoke_run_jax):
  run_dir, _ = smoke_run_jax  # trained by train_without_tensorflow
  assert json.loads((run_dir / "final_validation.json").read_text())["step"] == 6


EVALUATE = """
import json
from tsal_tf import evaluation
results = evaluation.evaluate_run(RUN_DIR, FOLDERS, limit=8)[0]["results"]
print(json.dumps({role: {source: results[role][source]["nme"] for source in ("p_M", "p_C", "fused", "tracking")}
                  for role in ("teacher", "student")}))
"""


def test_a_jax_run_evaluates_alike_under_jax_and_tensorflow(smoke_run_jax, common_set_sample):
  """evaluation.evaluate_run (the benchmarks' and ablate's evaluation) under KERAS_BACKEND=jax, as on the GPU
  machine, gives both roles' NMEs that TensorFlow gives for the same run and faces."""
  run_dir, folders = str(smoke_run_jax[0]), common_set_sample.split(",")
  result = run_jax_snippet(f"RUN_DIR, FOLDERS = {run_dir!r}, {folders!r}" + EVALUATE)
  assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
  under_jax = json.loads(result.stdout.strip().splitlines()[-1])
  from tsal_tf.evaluation import evaluate_run
  results = evaluate_run(run_dir, folders, limit=8)[0]["results"]
  for role, nmes in under_jax.items():
    for source, nme in nmes.items():
      assert nme == pytest.approx(results[role][source]["nme"], rel=1e-3, abs=1e-5), (role, source)
