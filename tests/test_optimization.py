"""The optimizer: the cosine schedule's values and which variables AdamW decays."""

import math

import keras
import numpy as np
import pytest

from tsal_tf import optimization


def test_cosine_schedule_warms_up_then_decays_to_zero():
  config = optimization.OptimizerConfig(learning_rate=4e-3, lr_schedule="cosine", epochs=10, warmup_steps=200)
  optimizer = optimization.make_optimizer(config, steps_per_epoch=100)

  def lr(step):
    optimizer.iterations.assign(step)
    return float(optimizer.learning_rate)

  assert lr(100) == pytest.approx(4e-3 * 100 / 200)                              # warm-up
  assert lr(200) == pytest.approx(4e-3)                                          # peak
  assert lr(600) == pytest.approx(4e-3 * (1 + math.cos(math.pi * 400 / 800)) / 2)  # cosine, half way
  assert lr(1000) == pytest.approx(0.0, abs=1e-9)


def test_cosine_schedule_ends_at_its_final_fraction():
  config = optimization.OptimizerConfig(learning_rate=4e-3, lr_schedule="cosine", epochs=10, warmup_steps=200,
                                        final_fraction=0.1)
  optimizer = optimization.make_optimizer(config, steps_per_epoch=100)

  def lr(step):
    optimizer.iterations.assign(step)
    return float(optimizer.learning_rate)

  assert lr(200) == pytest.approx(4e-3)
  assert lr(600) == pytest.approx(4e-3 * (0.1 + 0.9 * (1 + math.cos(math.pi * 400 / 800)) / 2))
  assert lr(1000) == pytest.approx(4e-4)
  with pytest.raises(ValueError, match="lr_final_fraction"):
    optimization.make_optimizer(optimization.OptimizerConfig(lr_schedule="cosine", final_fraction=1.5), 10)


def test_weight_decay_shrinks_kernels_only():
  # With zero gradients Adam's step is 0, so one apply leaves only the decay: w <- w (1 - wd * lr) for kernels,
  # while BatchNorm's gamma / beta and the biases keep their values.
  config = optimization.OptimizerConfig(learning_rate=1e-2, lr_schedule="step", lr_decay_epochs=(),
                                        weight_decay=0.5)
  optimizer = optimization.make_optimizer(config, steps_per_epoch=10)
  model = keras.Sequential([keras.Input((4, 4, 2)), keras.layers.Conv2D(3, 3), keras.layers.BatchNormalization()])
  model.layers[1].gamma.assign(np.full(3, 2.0, np.float32))
  model.layers[1].beta.assign(np.full(3, 0.5, np.float32))
  model.layers[0].bias.assign(np.full(3, 0.25, np.float32))
  before = {v.path: np.array(v) for v in model.trainable_variables}
  optimizer.apply([keras.ops.zeros_like(v) for v in model.trainable_variables], model.trainable_variables)
  for variable in model.trainable_variables:
    factor = 1 - 0.5 * 1e-2 if variable.name == "kernel" else 1.0
    np.testing.assert_allclose(np.array(variable), before[variable.path] * factor, rtol=1e-6)
  assert {v.name for v in model.trainable_variables} == {"kernel", "bias", "gamma", "beta"}
