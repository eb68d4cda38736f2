"""tsal_tf.motion_pretrain: the MFE trained alone on l_E learns a known motion; nothing else moves; train runs it
once, on new runs only."""

import subprocess
import sys
import types

import numpy as np
import pytest
from scipy import ndimage

from tsal_tf import evaluation
from tsal_tf import motion_pretrain
from tsal_tf.model import network
from tsal_tf.model.config import NetworkConfig
from tsal_tf.objective import ObjectiveConfig

import runners

CONFIG = NetworkConfig(input_size=32, num_points=68, widths=(8, 16), head_width=8, flow_widths=(8, 16), flow_scales=2)
SHIFT = 2.0  # crop pixels per frame, +x: one heatmap pixel at stride 2


def shifted_clips(count, seed):
  """Clips [count, 2, 32, 32, 3] uint8 of a smooth random texture whose frame 1 is frame 0 moved SHIFT px in +x,
  and 68 points per clip [count, 2, 68, 2] crop px that move with it."""
  rng = np.random.default_rng(seed)
  size = CONFIG.input_size
  texture = ndimage.gaussian_filter(rng.uniform(size=(count, size, size + 8, 3)), sigma=(0, 2, 2, 0))
  texture = (texture - texture.min()) / (texture.max() - texture.min())
  shift = int(SHIFT)
  frames = np.stack([texture[:, :, 4:4 + size], texture[:, :, 4 - shift:4 - shift + size]], axis=1)
  points = rng.uniform(8, size - 8, size=(count, 1, 68, 2)) + np.array([0.0, 0.0, SHIFT, 0.0]).reshape(1, 2, 1, 2)
  return (255 * frames).astype(np.uint8), points.astype(np.float32)


def test_the_motion_net_alone_learns_a_known_shift_and_is_copied_to_the_teacher():
  import keras
  keras.utils.set_random_seed(0)
  student, teacher = network.build_network(CONFIG, "student"), network.build_network(CONFIG, "teacher")
  model = types.SimpleNamespace(student=student, teacher=teacher)
  landmark_before = [w.numpy().copy() for w in student.landmark_net.weights]
  teacher_landmark_before = [w.numpy().copy() for w in teacher.landmark_net.weights]
  train_frames, _ = shifted_clips(64, seed=1)
  val_frames, val_points = shifted_clips(16, seed=2)

  def make_batches(first, count):
    for i in range(first, first + count):
      yield ({"frames": train_frames[(8 * i) % 64:(8 * i) % 64 + 8]},)  # (inputs,): a Keras generator

  history = motion_pretrain.pretrain_motion(model, make_batches, 60, 1e-2, ObjectiveConfig(smoothness_weight=0.0),
                                            val_frames, val_points, reports=2)
  zero_motion = evaluation.zero_motion_tracking(val_points)[0]["nme"]
  # The flow head starts at exactly zero: step 0 tracks as zero motion; then the learned flow beats it.
  assert [step for step, _ in history] == [0, 30, 60]
  assert history[0][1] == pytest.approx(zero_motion, rel=1e-5)
  assert history[-1][1] < 0.5 * zero_motion, history
  for before, after in zip(landmark_before, student.landmark_net.weights):
    np.testing.assert_array_equal(before, after.numpy())
  for before, after in zip(teacher_landmark_before, teacher.landmark_net.weights):
    np.testing.assert_array_equal(before, after.numpy())
  for copied, trained in zip(teacher.motion_net.weights, student.motion_net.weights):
    np.testing.assert_array_equal(copied.numpy(), trained.numpy())


def test_zero_motion_tracking_is_the_nme_of_frame_zero_copied():
  points = np.zeros((1, 3, 68, 2), np.float32)
  points[0, :, 36:42] = [10.0, 0.0]  # one eye's points at x = 10, the other's at 0: inter-pupil distance 10
  points[0, 1, :, 1] += 1.0  # frame 1 moved 1 px down, frame 2 not at all
  summary, errors = evaluation.zero_motion_tracking(points)
  np.testing.assert_allclose(errors, [0.1, 0.0], rtol=1e-6)
  assert summary["nme"] == pytest.approx(0.05)


@pytest.mark.slow
def test_train_pretrains_the_motion_field_of_a_new_run_only(tmp_path):
  # --epochs=0: the pre-trained networks are the run's checkpoint at step 0 (a start for --init_from).
  first = runners.train(tmp_path / "run", "--epochs=0", "--motion_pretrain_steps=4")
  assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
  assert "motion pre-training: 4 steps" in first.stdout and "motion pre-training: step 4," in first.stdout
  from tsal_tf import checkpoints
  saved = {group: dict(checkpoints.load_group(str(tmp_path / "run" / "checkpoints" / "ckpt-0.npz"), group))
           for group in ("student", "teacher")}
  # The flow heads' kernels start at exactly zero (model/motion.py): pre-trained, they are not, in both networks.
  heads = [name for name in saved["student"] if name.startswith("flow") and name.endswith("kernel")]
  assert len(heads) == 2 and all(np.any(saved["student"][n] != 0) for n in heads)
  assert all(np.array_equal(saved["student"][n], saved["teacher"][n]) for n in heads)
  # A run started from a trained one pre-trains again and then trains in the same process: test_train's
  # fine-tuning test; a resumed run does not: test_train's kill-and-resume test under JAX, whose smoke run
  # pre-trains (train.py decides both alike under both backends).
  # Single frames are refused when the flags are parsed (train's flag definitions, without a training process).
  code = ("from absl import flags; from tsal_tf import flag_defs; "
          "flags.FLAGS(['train', '--clip_length=1', '--motion_pretrain_steps=4'])")
  single = subprocess.run([sys.executable, "-c", code], cwd=runners.ROOT, capture_output=True, text=True, timeout=300)
  assert single.returncode != 0 and "--motion_pretrain_steps needs clips" in single.stderr, single.stderr


def test_the_pretraining_time_counts_as_training_time(tmp_path):
  from tsal_tf import callbacks
  path = str(tmp_path / "train_clock.json")
  assert callbacks.TrainClock(path, pretraining_seconds=5.0).seconds() == 5.0
  (tmp_path / "train_clock.json").write_text('{"steps": 10, "seconds": 3.0, "epochs": []}')
  assert callbacks.TrainClock(path, pretraining_seconds=5.0, resumed_step=10).seconds() == 8.0
  assert callbacks.TrainClock(path, resumed_step=10).seconds() == 3.0


@pytest.mark.slow
def test_train_pretrains_the_motion_field_under_jax_without_tensorflow(smoke_run_jax):
  _, run = smoke_run_jax  # trained with --motion_pretrain_steps=4 (runners.SMOKE_RUN_FLAGS)
  assert "motion pre-training: step 4," in run.stdout and "Keras backend jax" in run.stdout
