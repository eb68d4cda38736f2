"""Shared test fixtures: the real data in ../shared/data and small helpers."""

import os

import pytest

DATA = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))


def data_path(*parts):
  path = os.path.join(DATA, *parts)
  if not os.path.exists(path):
    pytest.skip(f"shared data not found at {path}")
  return path
