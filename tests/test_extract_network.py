"""tsal_tf.tools.extract_network: one network of a run, as a single-model run that loads to the same weights."""

import numpy as np
import pytest

from tsal_tf import runs
from tsal_tf.tools import extract_network


@pytest.mark.slow
@pytest.mark.parametrize("role", ["teacher", "student"])
def test_the_extracted_network_loads_as_a_single_model_with_the_roles_weights(smoke_run_tensorflow, tmp_path, role):
  run_dir, _ = smoke_run_tensorflow
  output = tmp_path / "extracted"
  path = extract_network.extract_network(str(run_dir), role, str(output))
  teacher, student, _ = runs.load_networks(str(run_dir))
  network, same, flags = runs.load_networks(str(output))
  assert same is network and not runs.has_teacher(flags)
  original = {"teacher": teacher, "student": student}[role]
  assert len(network.weights) == len(original.weights)
  for extracted, trained in zip(network.weights, original.weights):
    np.testing.assert_array_equal(extracted.numpy(), trained.numpy())
  assert path.endswith("ckpt-6.npz")
  with pytest.raises(SystemExit, match="exists"):
    extract_network.extract_network(str(run_dir), role, str(output))
