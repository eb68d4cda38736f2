"""Encoder-decoder backbone with the LHR and CLOR heads (keras.layers only; runs under TF and JAX).

Normalisation is GroupNorm (per sample), so a step's result does not depend on how the batch is split
across replicas (MirroredStrategy gives the same weights as one device).
"""

import keras
from keras import layers


def _conv_block(x, width, stride, name):
  x = layers.Conv2D(width, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
  x = layers.GroupNormalization(groups=min(8, width // 4), name=f"{name}_norm")(x)
  return layers.Activation("relu", name=f"{name}_relu")(x)


def _residual(x, width, name):
  y = _conv_block(x, width, 1, f"{name}_a")
  y = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"{name}_b_conv")(y)
  y = layers.GroupNormalization(groups=min(8, width // 4), name=f"{name}_b_norm")(y)
  return layers.Activation("relu", name=f"{name}_out")(layers.Add(name=f"{name}_add")([x, y]))


def build_landmark_network(config, name="landmark_net"):
  """Frames [B, S, S, 3] in [0, 1] -> {heatmaps [B,h,w,N], centre [B,h,w,1] logits, offsets [B,h,w,2N]}.

  h = w = S / heatmap_stride. Encoder stages halve the resolution; the decoder upsamples the deepest
  features back to h x w adding 1x1-projected skips; each head is conv3x3-ReLU-conv1x1 from one
  {name: channels} mapping (config.head_channels()).
  """
  frames = keras.Input((config.input_size, config.input_size, 3), name="frames")
  x = layers.Rescaling(2.0, offset=-1.0, name="normalise")(frames)
  x = _conv_block(x, config.widths[0], 1, "stem")
  skips = {}
  size = config.input_size
  for i, width in enumerate(config.widths):
    x = _conv_block(x, width, 2, f"down{i}")
    x = _residual(x, width, f"res{i}")
    size //= 2
    skips[size] = x
  while size < config.heatmap_size:
    size *= 2
    x = layers.UpSampling2D(2, interpolation="bilinear", name=f"up{size}")(x)
    x = layers.Conv2D(config.head_width, 1, name=f"up{size}_proj")(x)
    skip = layers.Conv2D(config.head_width, 1, name=f"skip{size}_proj")(skips[size])
    x = _conv_block(layers.Add(name=f"merge{size}")([x, skip]), config.head_width, 1, f"fuse{size}")
  if size != config.heatmap_size:
    raise ValueError(f"heatmap size {config.heatmap_size} is not reachable from the encoder stages")
  outputs = {}
  for head, channels in config.head_channels().items():
    y = layers.Conv2D(config.head_width, 3, padding="same", activation="relu", name=f"{head}_hidden")(x)
    bias = keras.initializers.Constant(-2.19) if head == "centre" else "zeros"  # CenterNet prior 0.1
    outputs[head] = layers.Conv2D(channels, 1, bias_initializer=bias, name=head)(y)
  return keras.Model(frames, outputs, name=name)
