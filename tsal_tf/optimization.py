"""The optimizer and its learning-rate schedule from an `OptimizerConfig`."""

import dataclasses

LR_SCHEDULES = ("step", "cosine")
# Variables weight decay leaves alone: BatchNorm's scale and shift and every bias (the 1-D parameters), as in
# the AdamW recipes of ConvNeXt / timm; decay acts on the kernels only.
NO_DECAY_NAMES = ("gamma", "beta", "bias")


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
  """Adam settings (flags of the same names in tsal_tf.flag_defs).

  Attributes:
    learning_rate: peak learning rate.
    lr_schedule: "step" (x0.1 at each of lr_decay_epochs; the paper: 1.25e-4, epochs 90 and 120) or "cosine"
      (linear warm-up over warmup_steps, then cosine decay to final_fraction * learning_rate at the last step).
    epochs: training epochs (the end of the cosine).
    lr_decay_epochs: epochs of the step schedule's drops.
    warmup_steps: warm-up of the cosine schedule.
    final_fraction: the cosine schedule's last learning rate as a fraction of the peak (0: decay to 0).
    weight_decay: decoupled weight decay (AdamW) of the kernels when positive: after each step
      w <- w - weight_decay * lr(t) * w (Keras scales the decay by the learning rate).
  """
  learning_rate: float = 1.25e-4
  lr_schedule: str = "step"
  epochs: int = 140
  lr_decay_epochs: tuple = (90, 120)
  warmup_steps: int = 200
  final_fraction: float = 0.0
  weight_decay: float = 0.0


def make_optimizer(config, steps_per_epoch):
  """Adam (AdamW with weight decay) under the config's schedule:

  step:   lr(t) = peak * 0.1^(number of decay epochs passed)
  cosine: lr(t) = peak * t / W for t < W, then peak * (f + (1 - f) (1 + cos(pi (t - W) / (T - W))) / 2),
          W = warmup_steps, T = epochs * steps_per_epoch, f = final_fraction.
  """
  import keras
  if config.lr_schedule == "cosine":
    total = config.epochs * steps_per_epoch
    warmup = min(config.warmup_steps, total - 1)
    if not 0.0 <= config.final_fraction <= 1.0:
      raise ValueError(f"--lr_final_fraction={config.final_fraction}: not in [0, 1]")
    schedule = keras.optimizers.schedules.CosineDecay(0.0, total - warmup, alpha=config.final_fraction,
                                                      warmup_target=config.learning_rate, warmup_steps=warmup)
  elif config.lr_schedule == "step":
    boundaries = [int(e) * steps_per_epoch for e in config.lr_decay_epochs]
    values = [config.learning_rate * 0.1 ** i for i in range(len(boundaries) + 1)]
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values) if boundaries else values[0]
  else:
    raise ValueError(f"--lr_schedule={config.lr_schedule}: not one of {', '.join(LR_SCHEDULES)}")
  if config.weight_decay > 0:
    optimizer = keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay)
    optimizer.exclude_from_weight_decay(var_names=NO_DECAY_NAMES)
    return optimizer
  return keras.optimizers.Adam(schedule)
