"""Shared test set-up: 2 logical CPU devices (for MirroredStrategy tests) and the real data in ../shared/data."""

import os

import pytest

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
