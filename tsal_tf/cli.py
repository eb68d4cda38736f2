"""What every command-line tool of tsal_tf shares: a quiet start and user errors as one line.

`run(main)` is absl's app.run with the conventions of every tool:
  * TensorFlow's C++ start-up log (CUDA probing, "failed call to cuInit" on machines without a GPU, oneDNN
    and CPU-feature notices) is not shown: TensorFlow is imported and its devices listed with the process's
    stderr pointed at /dev/null. Set TF_CPP_MIN_LOG_LEVEL (0 = everything) to see it.
  * An error the user can fix (a missing or unreadable path, a malformed annotation, a bad value, a diverged
    training) is printed as one `error: ...` line on stderr with exit status 2, never as a traceback.
"""

import contextlib
import importlib.util
import os
import sys

from absl import app

from tsal_tf.errors import TrainingDivergedError


# The exception types reported as one line: OSError (missing files and folders, unreadable images and videos,
# SavedModels that do not exist), ValueError (bad values and shapes, malformed annotations) and diverged training.
USER_ERRORS = (OSError, ValueError, TrainingDivergedError)


@contextlib.contextmanager
def _stderr_silenced():
  """Point file descriptor 2 at /dev/null (C++ logging writes there directly, past sys.stderr)."""
  sys.stderr.flush()
  saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
  os.dup2(devnull, 2)
  try:
    yield
  finally:
    os.dup2(saved, 2)
    os.close(saved)
    os.close(devnull)


def import_tensorflow_quietly():
  """Import TensorFlow and list its devices without its C++ start-up log (unless TF_CPP_MIN_LOG_LEVEL is set;
  a no-op where TensorFlow is not installed, e.g. the GPU machine's JAX)."""
  if "TF_CPP_MIN_LOG_LEVEL" in os.environ or importlib.util.find_spec("tensorflow") is None:
    return
  os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # also its later C++ notices (e.g. oneDNN int64 fallbacks)
  with _stderr_silenced():
    import tensorflow as tf
    tf.config.list_physical_devices()


def run(main):
  """app.run(main), quietly (`import_tensorflow_quietly`), with user errors as one line and exit status 2."""

  def main_with_errors(argv):
    try:
      import_tensorflow_quietly()
      return main(argv)
    except USER_ERRORS as error:
      print(f"error: {error}", file=sys.stderr)
      sys.exit(2)

  app.run(main_with_errors)
