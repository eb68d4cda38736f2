"""Motion Field Estimation (MFE) module: a small multi-scale MotionNet (Zhu et al., Hidden Two-Stream).

Input: two consecutive frames stacked on channels [B, S, S, 6] in [0, 1]. Output: flows at `flow_scales`
resolutions, finest first: flow[0] is [B, h, w, 2] at the heatmap resolution h = S / heatmap_stride,
flow[s] is at h / 2^s. Units: pixels of that scale; convention flow_t(x) = where pixel x of frame t went
in frame t+1, so `dense_warp(frame_{t+1}, flow_t) ~ frame_t` (the photometric loss) and a landmark p of
frame t moves to p + flow_t(p) (tracking). Trained without labels (losses.flow_loss) and, with MFDS, by L_D.
"""

import keras
from keras import layers


def build_motion_network(config, name="motion_net"):
  pair = keras.Input((config.input_size, config.input_size, 6), name="frame_pair")
  x = layers.Rescaling(2.0, offset=-1.0, name="normalise")(pair)
  size = config.input_size
  features = {}
  for i, width in enumerate(config.flow_widths):
    x = layers.Conv2D(width, 3, strides=2, padding="same", activation="relu", name=f"down{i}_a")(x)
    x = layers.Conv2D(width, 3, padding="same", activation="relu", name=f"down{i}_b")(x)
    size //= 2
    features[size] = x
  coarsest = config.heatmap_size // 2 ** (config.flow_scales - 1)
  while size > coarsest:
    x = layers.Conv2D(config.flow_widths[-1], 3, strides=2, padding="same", activation="relu",
                      name=f"deep{size // 2}")(x)
    size //= 2
    features[size] = x
  flows = []
  flow = None
  while True:
    inputs = [features[size], x] if x is not features[size] else [x]
    if flow is not None:
      inputs.append(layers.UpSampling2D(2, interpolation="bilinear", name=f"flow_up{size}")(flow * 2.0))
    merged = layers.Concatenate(name=f"merge{size}")(inputs) if len(inputs) > 1 else inputs[0]
    x = layers.Conv2D(config.flow_widths[0], 3, padding="same", activation="relu", name=f"dec{size}")(merged)
    flow = layers.Conv2D(2, 3, padding="same", kernel_initializer="zeros", name=f"flow{size}")(x)
    if size >= coarsest:
      flows.append(flow)
    if size == config.heatmap_size:
      break
    size *= 2
    x = layers.UpSampling2D(2, interpolation="bilinear", name=f"feat_up{size}")(x)
  return keras.Model(pair, flows[::-1][:config.flow_scales], name=name)
