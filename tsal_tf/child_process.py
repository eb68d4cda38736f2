"""Training processes started by a driver (`ablate`, the benchmarks): a stop request reaches the child once, and
the driver waits while the child saves its last step."""

import signal
import subprocess
import sys

FORWARDED = (signal.SIGINT, signal.SIGTERM)


def run(command, **popen_kwargs):
  """Run `command` (subprocess.Popen's arguments) to its end and return its exit status.

  The child runs in a session of its own, so a terminal's Ctrl-C reaches this process alone; SIGINT or SIGTERM
  received here is passed on to the child (`train` then saves its step and exits: callbacks.SignalStop) and this
  process waits for it, then exits with 128 + that signal's number. A second signal is passed on too (the child
  then stops at once).
  """
  received = []
  with subprocess.Popen(command, start_new_session=True, **popen_kwargs) as child:
    def forward(signum, frame):
      del frame
      received.append(signum)
      child.send_signal(signum)

    previous = {signum: signal.signal(signum, forward) for signum in FORWARDED}
    try:
      code = child.wait()
    finally:
      for signum, handler in previous.items():
        signal.signal(signum, handler)
  if received:
    print(f"interrupted by {signal.Signals(received[0]).name}: the training process ended with status {code}; "
          "run the same command again to resume", file=sys.stderr, flush=True)
    sys.exit(128 + received[0])
  return code
