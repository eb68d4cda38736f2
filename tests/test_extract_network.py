"""tsal_tf.tools.extract_network: one network of a run, as a single-model run that loads to the same weights."""

import subprocess
import sys

import numpy as np
import pytest

from tsal_tf import runs
from tsal_tf.tools import extract_network

from runners import ROOT

# train's flags parse the output's flags.txt in a process of their own (their names clash with other CLIs' here);
# known_only: absl.app's --help flags are in flags.txt too.
PARSE = """
import sys
from absl import flags
from tsal_tf import flag_defs
flags.FLAGS(["train", "--flagfile=" + sys.argv[1]], known_only=True)
f = flags.FLAGS
print(f.async_learning, f.average_student, f.swa_start, f.run_dir)
"""


@pytest.mark.slow
@pytest.mark.parametrize("role", ["teacher", "student"])
def test_the_extracted_network_loads_as_a_single_model_with_the_roles_weights(smoke_run_tensorflow, tmp_path, role):
  run_dir, _ = smoke_run_tensorflow
  output = tmp_path / "extracted"
  path = extract_network.extract_network(str(run_dir), role, str(output))
  teacher, student, _ = runs.load_networks(str(run_dir))
  network, same, run_flags = runs.load_networks(str(output))
  assert same is network and not runs.has_teacher(run_flags)
  original = {"teacher": teacher, "student": student}[role]
  assert len(network.weights) == len(original.weights)
  for extracted, trained in zip(network.weights, original.weights):
    np.testing.assert_array_equal(extracted.numpy(), trained.numpy())
  with np.load(path) as saved:
    assert path.endswith("ckpt-6.npz") and all(key.startswith(("student/", "path:student/")) for key in saved.files)
  with pytest.raises(SystemExit, match="exists"):
    extract_network.extract_network(str(run_dir), role, str(output))


@pytest.mark.slow
def test_the_extracted_flags_parse_as_a_flagfile(smoke_run_tensorflow, tmp_path):
  run_dir, _ = smoke_run_tensorflow
  output = tmp_path / "extracted"
  extract_network.extract_network(str(run_dir), "teacher", str(output))
  source = (run_dir / "flags.txt").read_text().splitlines()
  lines = (output / "flags.txt").read_text().splitlines()
  assert lines[:-4] == [line for line in source if not line.startswith(
      ("--async_learning", "--noasync_learning", "--average_student", "--noaverage_student", "--swa_start=",
       "--run_dir="))]
  parsed = subprocess.run([sys.executable, "-c", PARSE, str(output / "flags.txt")], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
  assert parsed.returncode == 0, parsed.stderr[-2000:]  # the validators ran
  assert parsed.stdout.split() == ["False", "False", "1.0", str(output)]


def test_single_model_flags_replaces_only_the_teacher_flags():
  lines = ["--async_learning\n", "--normalizer=inter_pupil\n", "--noaverage_student\n", "--swa_start=0.5\n",
           "--nosic\n", "--run_dir=/a\n"]
  assert extract_network.single_model_flags(lines, "/b") == [
      "--normalizer=inter_pupil", "--nosic", "--noasync_learning", "--noaverage_student", "--swa_start=1",
      "--run_dir=/b"]


def test_a_single_model_has_no_teacher_to_extract(tmp_path):
  (tmp_path / "checkpoints").mkdir()
  (tmp_path / "checkpoints" / "ckpt-1.npz").write_bytes(b"")
  (tmp_path / "flags.txt").write_text("--noasync_learning\n--noaverage_student\n")
  with pytest.raises(SystemExit, match="use --role=student"):
    extract_network.extract_network(str(tmp_path), "teacher", str(tmp_path / "out"))
