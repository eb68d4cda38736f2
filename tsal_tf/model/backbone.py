"""Encoder-decoder backbone with the LHR and CLOR heads (keras.layers only; runs under TF and JAX).

A ResNet-style encoder (3x3 convs, BatchNorm, ReLU; `blocks` basic residual blocks per stage) and a
lightweight U-Net decoder (bilinear x2 upsampling + 1x1-projected skip + one residual block per scale) back
to the heatmap resolution S / heatmap_stride. Under TensorFlow, BatchNorm is `synchronized=True`: in a
tf.distribute strategy the batch statistics are reduced over all replicas, so a step on R replicas equals a
step on one device with the whole batch (tests/test_distribution.py).

With `precision="bfloat16"` (or "auto" where the hardware has native bfloat16: tsal_tf.hardware) every layer
but the heads' output convs computes in bfloat16 (Keras' "mixed_bfloat16" policy: float32 variables, BatchNorm
statistics in float32); the output convs and so the logits, offsets and every loss stay float32. On CPUs with
AMX / AVX512-BF16 (and on GPUs) the step is ~1.5x faster, on other CPUs ~8x slower (results/core.md).
"""

import keras
from keras import layers

from tsal_tf import hardware

BN_MOMENTUM = 0.9  # moving statistics settle within ~50 steps: short CPU runs still evaluate well


PRECISIONS = {"float32": "float32", "bfloat16": "mixed_bfloat16"}  # NetworkConfig.precision -> Keras policy


def _norm(x, name, dtype):
  # Keras accepts synchronized=True only under TensorFlow; a JAX step sees its whole batch on one device.
  synchronized = keras.backend.backend() == "tensorflow"
  return layers.BatchNormalization(momentum=BN_MOMENTUM, synchronized=synchronized, name=name, dtype=dtype)(x)


def _conv_bn_relu(x, width, stride, name, dtype):
  x = layers.Conv2D(width, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv", dtype=dtype)(x)
  return layers.Activation("relu", name=f"{name}_relu", dtype=dtype)(_norm(x, f"{name}_bn", dtype))


def _residual(x, width, name, dtype):
  """Basic block: relu(x' + bn(conv(relu(bn(conv(x)))))), x' = x or a 1x1 projection when widths differ."""
  shortcut = x
  if x.shape[-1] != width:
    shortcut = _norm(layers.Conv2D(width, 1, use_bias=False, name=f"{name}_proj", dtype=dtype)(x),
                     f"{name}_proj_bn", dtype)
  y = _conv_bn_relu(x, width, 1, f"{name}_a", dtype)
  y = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"{name}_b_conv", dtype=dtype)(y)
  y = _norm(y, f"{name}_b_bn", dtype)
  return layers.Activation("relu", name=f"{name}_out", dtype=dtype)(
      layers.Add(name=f"{name}_add", dtype=dtype)([shortcut, y]))


def build_landmark_network(config, name="landmark_net"):
  """Frames [B, S, S, 3] in [0, 1] -> {heatmaps [B,h,w,N] logits, centre [B,h,w,1] logits, offsets [B,h,w,2N]}.

  h = w = S / heatmap_stride. The stem (a stride-2 conv) is stage 0 at S/2; stage i >= 1 is a stride-2 conv
  and `blocks` residual blocks, at S / 2^(i+1) with config.widths[i] channels. The decoder walks from the
  deepest stage back up to h x w, merging each skip; the heads follow config.head_channels().
  """
  dtype = PRECISIONS[hardware.resolve_precision(config.precision)]
  frames = keras.Input((config.input_size, config.input_size, 3), name="frames")
  x = layers.Rescaling(2.0, offset=-1.0, name="normalise", dtype=dtype)(frames)
  x = _conv_bn_relu(x, config.widths[0], 2, "stem", dtype)
  size = config.input_size // 2
  skips = {size: x}
  for i, width in enumerate(config.widths[1:], start=1):
    x = _conv_bn_relu(x, width, 2, f"down{i}", dtype)
    size //= 2
    for b in range(config.blocks):
      x = _residual(x, width, f"stage{i}_block{b}", dtype)
    skips[size] = x
  if size > config.heatmap_size:
    raise ValueError(f"heatmap size {config.heatmap_size} is finer than the deepest stage ({size})")
  x = _norm(layers.Conv2D(config.head_width, 1, use_bias=False, name="deep_proj", dtype=dtype)(x), "deep_proj_bn",
            dtype)
  while size < config.heatmap_size:
    size *= 2
    if size not in skips:
      raise ValueError(f"heatmap size {config.heatmap_size} is not reachable from the encoder stages")
    x = layers.UpSampling2D(2, interpolation="bilinear", name=f"up{size}", dtype=dtype)(x)
    skip = _norm(layers.Conv2D(config.head_width, 1, use_bias=False, name=f"skip{size}_proj", dtype=dtype)(
        skips[size]), f"skip{size}_bn", dtype)
    x = layers.Activation("relu", name=f"merge{size}_relu", dtype=dtype)(
        layers.Add(name=f"merge{size}", dtype=dtype)([x, skip]))
    x = _residual(x, config.head_width, f"fuse{size}", dtype)
  # LHR: a hidden 3x3 conv of lhr_width channels (68 maps need more than the decoder's few channels to tell
  # the landmarks apart), or none with lhr_width 0; the CLOR heads get a hidden conv half as wide as the decoder.
  y = x
  if config.lhr_width:
    y = layers.Conv2D(config.lhr_width, 3, padding="same", activation="relu", name="heatmaps_hidden",
                      dtype=dtype)(x)
  outputs = {"heatmaps": layers.Conv2D(config.num_points, 1, name="heatmaps", dtype="float32")(y)}
  for head, channels in config.head_channels().items():
    if head == "heatmaps":
      continue
    y = layers.Conv2D(config.head_width // 2, 3, padding="same", activation="relu", name=f"{head}_hidden",
                      dtype=dtype)(x)
    bias = keras.initializers.Constant(-2.19) if head == "centre" else "zeros"  # CenterNet prior 0.1
    outputs[head] = layers.Conv2D(channels, 1, bias_initializer=bias, name=head, dtype="float32")(y)
  return keras.Model(frames, outputs, name=name)
