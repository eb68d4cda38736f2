"""The C++ custom ops against NumPy oracles and the keras.ops reference; gradients; errors; fuzz; GPU parity."""

import shutil
import subprocess

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings, strategies as st

from tsal_tf.ops import loader, reference
from test_ops_reference import numpy_heatmap_to_coords, numpy_warp

library = loader.load()
needs_library = pytest.mark.skipif(library is None, reason="custom-op library not built (tools/build_ops.sh)")


def test_library_is_built_with_cuda_kernels_when_nvcc_exists():
  path = loader.library_path()
  assert path is not None and library is not None, "tools/build_ops.sh must build the library (CI checks it)"
  if shutil.which("nvcc"):
    symbols = subprocess.run(["nm", "-C", path], capture_output=True, text=True).stdout
    assert "LaunchDenseWarpGradGpu" in symbols and "DenseWarpGradKernel" in symbols, \
        "nvcc is present but the library has no CUDA kernels"


def _fractional_flow(rng, shape, low=-4.0, high=4.0):
  """Flows whose sampling points stay 0.2 px away from integer grid lines (finite differences are exact there)."""
  whole = rng.integers(int(low), int(high), size=shape).astype(np.float64)
  return whole + rng.uniform(0.2, 0.8, size=shape)


@needs_library
def test_heatmap_to_coords_matches_numpy_and_reference():
  rng = np.random.default_rng(0)
  heatmaps = rng.uniform(0, 1, (3, 9, 11, 70)).astype(np.float32)
  heatmaps[0, 0, 0, 0] = 3.0
  heatmaps[1, :, :, 5] = 0.5
  coords, confidence = library.heatmap_to_coords(heatmaps)
  want_coords, want_confidence = numpy_heatmap_to_coords(heatmaps)
  np.testing.assert_allclose(coords.numpy(), want_coords, atol=1e-5)
  np.testing.assert_allclose(confidence.numpy(), want_confidence, atol=1e-6)
  ref_coords, _ = reference.heatmap_to_coords(heatmaps)
  np.testing.assert_allclose(coords.numpy(), ref_coords.numpy(), atol=1e-5)


@needs_library
def test_dense_warp_matches_numpy_and_reference_with_out_of_range_flow():
  rng = np.random.default_rng(1)
  image = rng.uniform(0, 1, (2, 6, 7, 5)).astype(np.float32)
  flow = rng.uniform(-9, 9, (2, 6, 7, 2)).astype(np.float32)   # many samples fall outside the image
  out = library.dense_warp(image, flow).numpy()
  np.testing.assert_allclose(out, numpy_warp(image, flow), atol=1e-5)
  np.testing.assert_allclose(out, reference.dense_warp(image, flow).numpy(), atol=1e-5)


@needs_library
def test_dense_warp_gradients_against_float64_numerics():
  rng = np.random.default_rng(2)
  image = rng.uniform(0, 1, (2, 5, 6, 3))
  flow = _fractional_flow(rng, (2, 5, 6, 2), -2, 2)
  theoretical, _ = tf.test.compute_gradient(lambda i, f: library.dense_warp(i, f),
                                            [image.astype(np.float32), flow.astype(np.float32)])
  _, numerical = tf.test.compute_gradient(lambda i, f: reference.dense_warp(i, f), [image, flow], delta=1e-6)
  for got, want in zip(theoretical, numerical):
    np.testing.assert_allclose(got, want, atol=1e-4)


@needs_library
def test_dense_warp_gradient_matches_reference_gradient_everywhere():
  rng = np.random.default_rng(3)
  image = tf.constant(rng.uniform(0, 1, (3, 8, 8, 3)).astype(np.float32))
  flow = tf.constant(rng.uniform(-12, 12, (3, 8, 8, 2)).astype(np.float32))
  weights = tf.constant(rng.normal(size=(3, 8, 8, 3)).astype(np.float32))
  with tf.GradientTape(persistent=True) as tape:
    tape.watch([image, flow])
    custom = tf.reduce_sum(library.dense_warp(image, flow) * weights)
    ref = tf.reduce_sum(reference.dense_warp(image, flow) * weights)
  for got, want in zip(tape.gradient(custom, [image, flow]), tape.gradient(ref, [image, flow])):
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-5)


@needs_library
def test_heatmap_to_coords_declares_no_gradient():
  heatmaps = tf.constant(np.random.default_rng(4).uniform(size=(1, 4, 4, 2)).astype(np.float32))
  with tf.GradientTape() as tape:
    tape.watch(heatmaps)
    coords, _ = library.heatmap_to_coords(heatmaps)
  assert tape.gradient(coords, heatmaps) is None


@needs_library
def test_empty_batches():
  coords, confidence = library.heatmap_to_coords(np.zeros((0, 4, 4, 68), np.float32))
  assert coords.shape == (0, 68, 2) and confidence.shape == (0, 68)
  image = tf.zeros((0, 4, 4, 3))
  flow = tf.zeros((0, 4, 4, 2))
  assert library.dense_warp(image, flow).shape == (0, 4, 4, 3)
  grad_image, grad_flow = library.library.tsal_dense_warp_grad(image, flow, tf.zeros((0, 4, 4, 3)))
  assert grad_image.shape == (0, 4, 4, 3) and grad_flow.shape == (0, 4, 4, 2)


@needs_library
@pytest.mark.parametrize("image_shape, flow_shape, message", [
    ((6, 7, 3), (1, 6, 7, 2), "must be rank 4"),
    ((1, 6, 7, 3), (1, 6, 7, 3), r"flow must be \[B, H, W, 2\]"),
    ((2, 6, 7, 3), (1, 6, 7, 2), "disagree"),
    ((1, 6, 7, 3), (1, 6, 8, 2), "disagree"),
])
def test_warp_errors_are_invalid_argument(image_shape, flow_shape, message):
  with pytest.raises((tf.errors.InvalidArgumentError, ValueError), match=message):
    library.dense_warp(tf.zeros(image_shape), tf.zeros(flow_shape))


@needs_library
def test_heatmap_errors_are_invalid_argument():
  with pytest.raises(tf.errors.InvalidArgumentError, match="rank 4"):
    library.heatmap_to_coords(tf.zeros((4, 4, 2)))
  with pytest.raises(tf.errors.InvalidArgumentError, match="no pixels"):
    library.heatmap_to_coords(tf.zeros((1, 0, 4, 2)))


@needs_library
def test_shape_functions_infer_static_shapes_in_tf_function():
  @tf.function(input_signature=[tf.TensorSpec([None, 16, 16, 68]), tf.TensorSpec([None, 16, 16, 2])])
  def graph(heatmaps, flow):
    coords, confidence = library.heatmap_to_coords(heatmaps)
    warped = library.dense_warp(heatmaps[..., :3], flow)
    assert coords.shape.as_list() == [None, 68, 2] and confidence.shape.as_list() == [None, 68]
    assert warped.shape.as_list() == [None, 16, 16, 3]
    return coords, warped

  rng = np.random.default_rng(5)
  heatmaps = rng.uniform(size=(2, 16, 16, 68)).astype(np.float32)
  flow = rng.uniform(-3, 3, (2, 16, 16, 2)).astype(np.float32)
  coords, warped = graph(heatmaps, flow)
  np.testing.assert_allclose(coords.numpy(), reference.heatmap_to_coords(heatmaps)[0].numpy(), atol=1e-5)
  np.testing.assert_allclose(warped.numpy(), reference.dense_warp(heatmaps[..., :3], flow).numpy(), atol=1e-5)


@needs_library
def test_ops_under_mirrored_strategy_with_two_logical_devices():
  devices = [d.name for d in tf.config.list_logical_devices("CPU")][:2]
  strategy = tf.distribute.MirroredStrategy(devices)
  rng = np.random.default_rng(6)
  image = rng.uniform(size=(4, 8, 8, 3)).astype(np.float32)
  flow = rng.uniform(-2, 2, (4, 8, 8, 2)).astype(np.float32)
  dataset = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors((image, flow)).unbatch().batch(4))

  @tf.function
  def step(batch):
    def replica(i, f):
      with tf.GradientTape() as tape:
        tape.watch(f)
        loss = tf.reduce_sum(library.dense_warp(i, f))
      return tape.gradient(loss, f)
    return strategy.run(replica, args=batch)

  grads = tf.concat(strategy.experimental_local_results(step(next(iter(dataset)))), axis=0)
  f = tf.constant(flow)
  with tf.GradientTape() as tape:
    tape.watch(f)
    loss = tf.reduce_sum(reference.dense_warp(image, f))
  np.testing.assert_allclose(grads.numpy(), tape.gradient(loss, f).numpy(), atol=1e-5)


@needs_library
@settings(max_examples=40, deadline=None)
@given(batch=st.integers(0, 3), height=st.integers(1, 9), width=st.integers(1, 9), channels=st.integers(1, 45),
       scale=st.floats(0.0, 20.0), seed=st.integers(0, 2**31 - 1))
def test_fuzz_custom_equals_reference(batch, height, width, channels, scale, seed):
  # Up to 45 channels: the CPU parser's 32- and 8-channel vector paths and its scalar tail all run.
  rng = np.random.default_rng(seed)
  heatmaps = rng.normal(size=(batch, height, width, channels)).astype(np.float32)
  flow = (rng.normal(size=(batch, height, width, 2)) * scale).astype(np.float32)
  coords, confidence = library.heatmap_to_coords(heatmaps)
  ref_coords, ref_confidence = reference.heatmap_to_coords(heatmaps)
  np.testing.assert_allclose(coords.numpy(), ref_coords.numpy(), atol=1e-5)
  np.testing.assert_allclose(confidence.numpy(), ref_confidence.numpy(), atol=1e-6)
  np.testing.assert_allclose(library.dense_warp(heatmaps, flow).numpy(),
                             reference.dense_warp(heatmaps, flow).numpy(), atol=1e-5)


def test_cpu_gpu_parity():
  gpus = tf.config.list_logical_devices("GPU")
  if not gpus or library is None:
    pytest.skip("no GPU visible to TensorFlow here: CPU-vs-GPU parity runs where one exists "
                "(the CUDA kernels are proven on the H100 by custom_ops/gpu_harness)")
  rng = np.random.default_rng(7)
  heatmaps = rng.uniform(size=(8, 64, 64, 68)).astype(np.float32)
  image = rng.uniform(size=(16, 128, 128, 3)).astype(np.float32)
  flow = rng.uniform(-10, 10, (16, 128, 128, 2)).astype(np.float32)
  results = {}
  for device in ("/cpu:0", gpus[0].name):
    with tf.device(device):
      results[device] = (library.heatmap_to_coords(heatmaps)[0].numpy(), library.dense_warp(image, flow).numpy())
  cpu, gpu = results.values()
  np.testing.assert_allclose(cpu[0], gpu[0], atol=1e-5)
  np.testing.assert_allclose(cpu[1], gpu[1], atol=1e-5)


def test_pure_tf_switch_forces_the_reference(monkeypatch):
  monkeypatch.setenv("TSAL_PURE_TF_OPS", "1")
  loader.load.cache_clear()
  try:
    assert loader.load() is None
  finally:
    monkeypatch.delenv("TSAL_PURE_TF_OPS")
    loader.load.cache_clear()
