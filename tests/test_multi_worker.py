"""Two local worker processes train 2 steps with MultiWorkerMirroredStrategy (TF_CONFIG on 127.0.0.1)."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from tsal_tf.checkpoints import latest_checkpoint

from runners import ROOT
pytestmark = pytest.mark.slow


def _free_ports(count):
  sockets = [socket.socket() for _ in range(count)]
  for s in sockets:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def test_two_workers_train_in_lock_step(tmp_path):
  workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
  processes = []
  for index in range(2):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
               TF_CONFIG=json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}))
    command = [sys.executable, "-m", "tsal_tf.train", f"--flagfile={ROOT}/configs/smoke.flags",
               f"--run_dir={tmp_path}/run", "--epochs=1", "--steps_per_epoch=2"]
    processes.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))
  outputs = [p.communicate(timeout=600)[0] for p in processes]
  for p, out in zip(processes, outputs):
    assert p.returncode == 0, out[-3000:]
  chief = np.load(latest_checkpoint(f"{tmp_path}/run/checkpoints"))
  other = np.load(latest_checkpoint(f"{tmp_path}/run/worker_1/checkpoints"))
  # Every variable (both networks, the optimizer, the weight queue) is identical on the two workers.
  names = [n for n in chief.files if not n.startswith("path:")]
  assert len(names) > 100 and sorted(names) == sorted(n for n in other.files if not n.startswith("path:"))
  for name in names:
    np.testing.assert_allclose(chief[name], other[name], atol=1e-6, err_msg=name)
  assert json.loads((tmp_path / "run" / "final_validation.json").read_text())["step"] == 2
