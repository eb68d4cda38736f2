"""Backend-neutral training checkpoints: every variable of a run in one `.npz`, written atomically.

A checkpoint `<dir>/ckpt-<step>.npz` holds groups of variables (student, teacher, optimizer, queue) as arrays
named `<group>/<index>`, plus each array's variable path under `path:<group>/<index>`, so the same file is
written and read under TensorFlow (any tf.distribute strategy: values are read and assigned in cross-replica
context) and under JAX. Restoring checks every group, count and shape and names the first mismatch.
"""

import os
import re

import numpy as np
from keras import ops

from tsal_tf.io_utils import atomic_path

_NAME = re.compile(r"^ckpt-(\d+)\.npz$")


def checkpoint_steps(directory):
  """Steps of the checkpoints in `directory`, ascending ([] when there are none)."""
  if not os.path.isdir(directory):
    return []
  return sorted(int(m.group(1)) for m in map(_NAME.match, os.listdir(directory)) if m)


def latest_checkpoint(directory):
  """Path of the newest checkpoint in `directory`, or None."""
  steps = checkpoint_steps(directory)
  return os.path.join(directory, f"ckpt-{steps[-1]}.npz") if steps else None


def save(path, groups):
  """Write {group: [keras.Variable]} to `path` (a temporary file renamed into place)."""
  save_arrays(path, {group: [(variable.path, ops.convert_to_numpy(variable.value)) for variable in variables]
                     for group, variables in groups.items()})


def save_arrays(path, groups):
  """Write {group: [(variable path, array)]} to `path` in the checkpoint layout, atomically."""
  arrays = {}
  for group, entries in groups.items():
    for i, (variable_path, array) in enumerate(entries):
      arrays[f"{group}/{i}"] = array
      arrays[f"path:{group}/{i}"] = np.array(variable_path)
  with atomic_path(path) as temporary:
    with open(temporary, "wb") as f:
      np.savez(f, **arrays)


def load_group(path, group):
  """[(variable path, array)] of one group of a checkpoint, in order."""
  with np.load(path) as saved:
    arrays = _group_arrays(saved, path, group)
    return [(str(saved[f"path:{group}/{i}"]), array) for i, array in enumerate(arrays)]


def load_arrays(path, group):
  """The arrays of one group of a checkpoint, in order."""
  with np.load(path) as saved:
    return _group_arrays(saved, path, group)


def _group_arrays(saved, path, group):
  """The arrays of `group` in an open checkpoint `saved` (read from `path`), in order."""
  count = sum(1 for key in saved.files if key.startswith(f"{group}/"))
  if not count:
    raise ValueError(f"{path}: no '{group}' variables in this checkpoint")
  return [saved[f"{group}/{i}"] for i in range(count)]


def restore(path, groups):
  """Assign a checkpoint's arrays to {group: [keras.Variable]}; raises ValueError naming any mismatch."""
  for group, variables in groups.items():
    arrays = load_arrays(path, group)
    if len(arrays) != len(variables):
      raise ValueError(f"{path}: '{group}' holds {len(arrays)} variables, the model has {len(variables)} "
                       f"(was the run trained with other network flags?)")
    for variable, array in zip(variables, arrays):
      if tuple(array.shape) != tuple(variable.shape):
        raise ValueError(f"{path}: {variable.path} has shape {tuple(array.shape)} in the checkpoint, "
                         f"{tuple(variable.shape)} in the model")
    for variable, array in zip(variables, arrays):
      variable.assign(array)


class CheckpointManager:
  """Save `groups` as <directory>/ckpt-<step>.npz and keep the newest `max_to_keep`."""

  def __init__(self, directory, groups, max_to_keep=3):
    self.directory, self.groups, self.max_to_keep = directory, groups, max_to_keep

  @property
  def latest_checkpoint(self):
    return latest_checkpoint(self.directory)

  def save(self, step):
    os.makedirs(self.directory, exist_ok=True)
    save(os.path.join(self.directory, f"ckpt-{step}.npz"), self.groups)
    for old in checkpoint_steps(self.directory)[:-self.max_to_keep]:
      os.remove(os.path.join(self.directory, f"ckpt-{old}.npz"))

  def restore(self, path):
    restore(path, self.groups)
