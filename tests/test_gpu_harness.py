"""CI keeps the standalone CUDA harness compiling (it runs on a GPU machine: benchmarks/README.md)."""

import os
import shutil
import subprocess

import pytest

from runners import ROOT


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not installed: the harness cannot be compiled here")
def test_harness_builds_with_nvcc(tmp_path):
  result = subprocess.run(["bash", os.path.join(ROOT, "custom_ops", "gpu_harness", "run.sh"), "--build"],
                          env=dict(os.environ, HARNESS_OUT=str(tmp_path)), capture_output=True, text=True,
                          timeout=600)
  assert result.returncode == 0, result.stdout + result.stderr
  assert "warning" not in result.stderr.lower(), result.stderr
  assert os.access(tmp_path / "harness", os.X_OK)
