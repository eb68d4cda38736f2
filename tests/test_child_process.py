"""child_process.run: a driver's SIGINT / SIGTERM reaches its training process once, and the driver waits for it."""

import os
import signal
import subprocess
import sys
import time

import pytest

from runners import ROOT

# A stand-in for `train`: on SIGINT / SIGTERM it takes a moment to "save", notes each signal, and exits 128 + n.
CHILD = """
import signal, sys, time
log = open(sys.argv[1], "a")
def stop(signum, frame):
  log.write(f"got {signal.Signals(signum).name}\\n"); log.flush()
  time.sleep(0.5)
  log.write("saved\\n"); log.close()
  sys.exit(128 + signum)
signal.signal(signal.SIGINT, stop); signal.signal(signal.SIGTERM, stop)
log.write("ready\\n"); log.flush()
time.sleep(60)
"""
DRIVER = """
import sys
from tsal_tf import child_process
child_process.run([sys.executable, "-c", sys.argv[1], sys.argv[2]])
"""


# A terminal's Ctrl-C: SIGINT to the driver's whole process group; a scheduler's SIGTERM: to the driver alone.
@pytest.mark.parametrize("signum, to_group", [(signal.SIGINT, True), (signal.SIGTERM, False)])
def test_a_signal_reaches_the_child_once_and_the_driver_waits(tmp_path, signum, to_group):
  log = tmp_path / "child.log"
  driver = subprocess.Popen([sys.executable, "-c", DRIVER, CHILD, str(log)], cwd=ROOT, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
  deadline = time.time() + 60
  while time.time() < deadline and not (log.is_file() and "ready" in log.read_text()):
    time.sleep(0.02)
  if to_group:
    os.killpg(driver.pid, signum)
  else:
    driver.send_signal(signum)
  _, stderr = driver.communicate(timeout=60)
  name = signal.Signals(signum).name
  # Once (the child is in a session of its own: the group's signal does not reach it directly), and waited for.
  assert log.read_text().splitlines() == ["ready", f"got {name}", "saved"]
  assert driver.returncode == 128 + signum
  assert f"interrupted by {name}" in stderr and f"status {128 + signum}" in stderr


def test_a_finished_child_returns_its_status():
  from tsal_tf import child_process
  assert child_process.run([sys.executable, "-c", "raise SystemExit(3)"]) == 3
