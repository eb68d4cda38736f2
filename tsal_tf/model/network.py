"""One TSAL network (teacher and student are two instances): landmark net (LHR + CLOR heads) + MFE."""

import keras
from keras import ops

from tsal_tf.model import backbone
from tsal_tf.model import motion


class TSALNetwork(keras.Model):
  """frames [B, K, S, S, 3] in [0, 1] -> dict of per-frame outputs and inter-frame flows.

  Returns:
    heatmaps [B, K, h, w, N], centre [B, K, h, w, 1] (logits), offsets [B, K, h, w, 2N], and
    flows: a list over scales (finest first) of [B, K-1, h_s, w_s, 2] (empty when K = 1).
  """

  def __init__(self, config, **kwargs):
    super().__init__(**kwargs)
    self.config = config
    self.landmark_net = backbone.build_landmark_network(config)
    self.motion_net = motion.build_motion_network(config)

  def call(self, frames, training=False):
    batch, num_frames = ops.shape(frames)[0], frames.shape[1]
    size = self.config.input_size
    per_frame = self.landmark_net(ops.reshape(frames, (-1, size, size, 3)), training=training)
    outputs = {k: ops.reshape(v, (batch, num_frames) + tuple(v.shape[1:])) for k, v in per_frame.items()}
    outputs["flows"] = []
    if num_frames > 1:
      pairs = ops.concatenate([frames[:, :-1], frames[:, 1:]], axis=-1)
      flows = self.motion_net(ops.reshape(pairs, (-1, size, size, 6)), training=training)
      outputs["flows"] = [ops.reshape(f, (batch, num_frames - 1) + tuple(f.shape[1:])) for f in flows]
    return outputs

  def detect(self, images):
    """Single frames [B, S, S, 3] -> landmark net outputs (no motion field)."""
    return self.landmark_net(images, training=False)


def build_network(config, name):
  network = TSALNetwork(config, name=name)
  network(ops.zeros((1, 2, config.input_size, config.input_size, 3)))
  return network
