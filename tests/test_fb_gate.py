"""The forward-backward gate of the tracked pseudo-labels (--fb_gate): the check, the masked loss, both steps."""

import dataclasses
import sys

import numpy as np
import pytest
from keras import ops

from tsal_tf import losses
from tsal_tf import objective
from tsal_tf.model import decoders
from tsal_tf.model.config import NetworkConfig
from tsal_tf.objective import ObjectiveConfig

import runners
from runners import ROOT


def _np(x):
  return ops.convert_to_numpy(x)


def _constant_flows(batch_vectors, frames_per_clip, size):
  """[B, K-1, size, size, 2] flows, clip b moving every pixel by batch_vectors[b] between all frames."""
  vectors = np.asarray(batch_vectors, np.float32)[:, None, None, None, :]
  return np.broadcast_to(vectors, (len(batch_vectors), frames_per_clip - 1, size, size, 2)).copy()


def test_forward_backward_error_is_the_round_trip_distance():
  # Clip 0's backward field undoes its forward field exactly; clip 1's misses by (0.3, 0.4) per frame pair, so a
  # point k frames on comes back 0.5 k pixels from its start.
  size, start = 16, np.array([[[5.0, 6.0], [8.5, 3.25]]] * 2, np.float32)
  forward = _constant_flows([[1.0, 0.5], [1.0, 0.5]], 3, size)
  backward = _constant_flows([[-1.0, -0.5], [-0.7, -0.1]], 3, size)
  tracks = decoders.track(forward, start)
  np.testing.assert_allclose(_np(tracks)[:, 2], start + [2.0, 1.0], atol=1e-5)
  errors = _np(decoders.forward_backward_error(tracks, backward))
  np.testing.assert_allclose(errors[0], 0.0, atol=1e-5)
  np.testing.assert_allclose(errors[1], [[0.5, 0.5], [1.0, 1.0]], atol=1e-5)


def test_forward_backward_error_chains_the_backward_flows_from_the_last_frame():
  # Frame pair 0 moves everything by (+1, 0); pair 1 moves the right part (x >= 9) down by 2 and nothing else;
  # the backward fields undo each pair exactly. Point A (8, 3) goes to (9, 3), then (9, 5); point B (3, 4) to
  # (4, 4) and stays. Chained from the last frame back, both return exactly; chained in the wrong order, or read
  # at the start instead of where the point is, A would not.
  size = 16
  forward = np.zeros((1, 2, size, size, 2), np.float32)
  backward = np.zeros_like(forward)
  forward[:, 0, ..., 0], backward[:, 0, ..., 0] = 1.0, -1.0
  forward[:, 1, :, 9:, 1], backward[:, 1, :, 9:, 1] = 2.0, -2.0
  start = np.array([[[8.0, 3.0], [3.0, 4.0]]], np.float32)
  tracks = decoders.track(forward, start)
  np.testing.assert_allclose(_np(tracks)[0, 2], [[9.0, 5.0], [4.0, 4.0]], atol=1e-5)
  np.testing.assert_allclose(_np(decoders.forward_backward_error(tracks, backward)), 0.0, atol=1e-5)
  swapped = np.ascontiguousarray(backward[:, ::-1])  # frame 2's points through entry 0 first
  np.testing.assert_allclose(_np(decoders.forward_backward_error(tracks, swapped))[0, 1], [2.0, 0.0], atol=1e-5)


def _fake_outputs(backward_miss):
  """Objective inputs of 2 clips of 3 frames: constant forward flows, backward flows that miss by backward_miss."""
  rng = np.random.default_rng(1)
  batch, frames_per_clip, size, n = 2, 3, 12, 4
  forward = [[0.5, -0.25], [1.0, 0.5]]
  backward = [[-f[0] + m[0], -f[1] + m[1]] for f, m in zip(forward, backward_miss)]
  outputs = {"heatmaps": rng.normal(size=(batch, frames_per_clip, size, size, n)).astype(np.float32),
             "centre": rng.normal(size=(batch, frames_per_clip, size, size, 1)).astype(np.float32),
             "offsets": rng.normal(size=(batch, frames_per_clip, size, size, 2 * n)).astype(np.float32),
             "flows": [_constant_flows(forward, frames_per_clip, size)],
             "backward_flows": [_constant_flows(backward, frames_per_clip, size)]}
  frames = rng.uniform(size=(batch, frames_per_clip, size, size, 3)).astype(np.float32)
  labels = rng.uniform(3, 8, size=(batch, n, 2)).astype(np.float32)
  return outputs, frames, labels


@pytest.mark.parametrize("role", ["teacher", "student"])
def test_the_gate_drops_the_points_that_do_not_track_back(role):
  # Clip 1's backward field misses by 0.5 px per frame pair: at a gate of 0.75 px its frame 1 passes and its
  # frame 2 (1.0 px) is dropped; clip 0 tracks back exactly.
  outputs, frames, labels = _fake_outputs([[0.0, 0.0], [0.3, -0.4]])
  config = ObjectiveConfig(sic=False, mfds=False, fb_gate=0.75)
  gated = objective.network_objective(outputs, frames, labels, 1.0, role, config)
  keep = np.ones((2, 2, 4), np.float32)
  keep[1, 1] = 0.0
  assert float(gated["fb_kept"]) == pytest.approx(0.75)
  tracked = _np(decoders.track(outputs["flows"][0], labels))[:, 1:]
  _, p_c, _ = objective.decode_all(outputs)
  target = tracked if role == "teacher" else _np(losses.student_target(tracked, p_c[:, 1:], config.mu))
  expected = float(losses.pseudo_heatmap_loss(outputs["heatmaps"][:, 1:], target, config, keep))
  assert float(gated["L_d"]) == pytest.approx(expected, rel=1e-5)
  ungated = objective.network_objective(outputs, frames, labels, 1.0, role, dataclasses.replace(config, fb_gate=0.0))
  assert float(ungated["L_d"]) != pytest.approx(expected, rel=1e-3)
  assert "fb_kept" not in ungated
  wide = objective.network_objective(outputs, frames, labels, 1.0, role, dataclasses.replace(config, fb_gate=5.0))
  assert float(wide["L_d"]) == pytest.approx(float(ungated["L_d"]), rel=1e-6) and float(wide["fb_kept"]) == 1.0
  for term in ("l_M", "l_C", "l_E"):  # the gate touches the pseudo-labels only
    assert float(gated[term]) == pytest.approx(float(ungated[term]), rel=1e-6)
  del outputs["backward_flows"]
  with pytest.raises(ValueError, match="backward_flows"):
    objective.network_objective(outputs, frames, labels, 1.0, role, config)


def _gated_model(seed=3):
  """A tiny TeacherStudent with the gate on and motion fields that move (the flow head starts at exactly 0)."""
  import keras
  from tsal_tf.teacher_student import TeacherStudent
  keras.utils.set_random_seed(seed)
  config = NetworkConfig(input_size=32, widths=(8, 16), head_width=8, flow_widths=(8, 16), flow_scales=2)
  model = TeacherStudent(config, ObjectiveConfig(sic=False, mfds=False, fb_gate=1.0), steps_per_epoch=1)
  rng = np.random.default_rng(seed)
  for net in (model.student, model.teacher):
    for weight in net.motion_net.trainable_weights:
      weight.assign(weight.value + rng.normal(0, 0.2, weight.shape).astype(np.float32))
  return model


def _gated_batch():
  rng = np.random.default_rng(4)
  return {"frames": rng.integers(0, 256, size=(2, 3, 32, 32, 3), dtype=np.uint8),
          "landmarks": rng.uniform(6, 26, size=(2, 3, 68, 2)).astype(np.float32),
          "labeled": np.array([[True, False, False], [True, False, False]])}


def test_backward_flows_are_the_motion_field_of_the_reversed_pairs():
  model = _gated_model()
  frames, _, _ = model.inputs_of(_gated_batch())
  outputs = model.student(frames, backward_flows=True)
  reversed_clip = model.student(ops.flip(frames, axis=1))
  np.testing.assert_allclose(_np(outputs["backward_flows"][0]), _np(ops.flip(reversed_clip["flows"][0], axis=1)),
                             atol=1e-5)
  assert "backward_flows" not in model.student(frames)
  assert "backward_flows" not in model.student(frames[:, :1], backward_flows=True)  # single frames: no motion


def _oracle_gates(model, batch):
  """(gate, {role: (L_d at the gate, kept share, L_d without the gate)}) from the model's weights before a step;
  the gate is the median forward-backward error of the teacher's tracks, so that it drops about half of them."""
  frames, labels, labeled = model.inputs_of(batch)
  outputs = {role: net(frames, training=True, backward_flows=True) for role, net in model.roles()}
  tracks = decoders.track(outputs["teacher"]["flows"][0], labels)
  gate = float(np.median(_np(decoders.forward_backward_error(tracks, outputs["teacher"]["backward_flows"][0]))))
  omega = float(_np(model.omega_at(0)))
  expected = {}
  for role, _ in model.roles():
    terms = [objective.network_objective(outputs[role], frames, labels, omega, role,
                                         dataclasses.replace(model.objective_config, fb_gate=g),
                                         label_weights=model.label_weights(labeled), guide=labels)
             for g in (gate, 0.0)]
    expected[role] = (float(terms[0]["L_d"]), float(terms[0]["fb_kept"]), float(terms[1]["L_d"]))
  return gate, expected


def test_the_train_step_gates_the_pseudo_labels():
  """A TensorFlow train step's L_d and fb_kept of each network are the objective's at the gate, each network
  checking its own tracks; at the teacher's median error the gate drops about half of its points."""
  import keras
  batch = _gated_batch()
  gate, expected = _oracle_gates(_gated_model(), batch)
  assert 0.3 < expected["teacher"][1] < 0.7 and gate > 0.05, (gate, expected)
  model = _gated_model()  # the same seed: the oracle's weights
  model.objective_config = dataclasses.replace(model.objective_config, fb_gate=gate)
  model.compile(keras.optimizers.Adam(1e-3))
  logs = model.train_step(batch)
  for role, (l_d, kept, ungated) in expected.items():
    assert float(_np(logs[f"{role}/L_d"])) == pytest.approx(l_d, rel=1e-4)
    assert float(_np(logs[f"{role}/fb_kept"])) == pytest.approx(kept)
    assert abs(l_d - ungated) > 1e-3 * ungated, (role, l_d, ungated)


JAX_STEP = """
import dataclasses
import functools
import jax
import numpy as np
import keras
assert keras.backend.backend() == "jax"
import test_fb_gate as t
from tsal_tf import train_step_jax
model = t._gated_model()
model.objective_config = dataclasses.replace(model.objective_config, fb_gate=1e-6)
model.compile(keras.optimizers.Adam(1e-3))
model.optimizer.build(model.trainable_variables)
state = ([v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables],
         [v.value for v in model.optimizer.variables], [])
logs, _ = jax.jit(functools.partial(train_step_jax.train_step, model))(state, t._gated_batch())
for role in ("teacher", "student"):
  assert float(logs[role + "/fb_kept"]) < 0.05 and float(logs[role + "/L_d"]) < 1e-3, logs
  assert float(logs[role + "/l_M"]) > 0.1  # the gate leaves the labeled loss alone
print("ok")
"""


def test_the_jax_step_gates_the_pseudo_labels():
  """Under JAX the step reads each network's backward flows (stateless_call) and applies the gate: at a gate of
  1e-6 heatmap px nearly every tracked point is dropped and L_d is ~0 (the TensorFlow test above checks the
  values against the objective)."""
  pytest.importorskip("jax", reason="JAX is installed by the test extra (bash tools/setup.sh --test)")
  result = runners.run_jax_snippet(JAX_STEP)
  assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stdout + result.stderr


def test_gate_table_hand_computed():
  sys.path.insert(0, ROOT)
  from benchmarks import fb_gate
  fb_errors, track_errors = np.array([0.1, 0.6, 2.0]), np.array([0.01, 0.03, 0.05])
  rows = fb_gate.gate_table(fb_errors, track_errors, [0.5, 5.0])
  np.testing.assert_allclose(rows[0], (0.5, 100 / 3, 1.0, 4.0))
  assert rows[1][:3] == (5.0, 100.0, pytest.approx(3.0)) and np.isnan(rows[1][3])


def test_benchmark_point_errors_average_to_the_tracking_nme(tmp_path):
  """benchmarks/fb_gate.py on 4 real test faces: the mean of its tracking errors is evaluate's tracking NME, and
  its forward-backward errors are those of the objective's check."""
  sys.path.insert(0, ROOT)
  from benchmarks import fb_gate
  from conftest import data_path
  from tsal_tf import evaluation
  model = _gated_model()
  data = evaluation.evaluation_data([data_path("300w_helen_test")], 32, 3, 68, limit=4)
  fb_errors, track_errors = fb_gate.point_errors(model.student, data.frames, data.tracks)
  summary, _ = evaluation.evaluate_tracking(model.student, data.frames, data.tracks)
  assert track_errors.shape == fb_errors.shape == (4, 2, 68)
  assert float(track_errors.mean()) == pytest.approx(summary["nme"], rel=1e-5)
  outputs = model.student(ops.convert_to_tensor(data.frames.astype(np.float32) / 255.0), backward_flows=True)
  start = decoders.to_heatmap_coords(data.tracks[:, 0].astype(np.float32), model.net_config.heatmap_stride)
  expected = decoders.forward_backward_error(decoders.track(outputs["flows"][0], start), outputs["backward_flows"][0])
  np.testing.assert_allclose(fb_errors, _np(expected), rtol=1e-5, atol=1e-5)
  assert fb_errors.max() > 0.05  # the perturbed motion field moves: the check has something to measure
