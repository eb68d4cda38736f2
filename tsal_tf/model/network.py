"""One TSAL network (teacher and student are two instances): landmark net (LHR + CLOR heads) + MFE."""

import keras
from keras import ops

from tsal_tf.model import backbone
from tsal_tf.model import motion


class TSALNetwork(keras.Model):
  """frames [B, K, S, S, 3] in [0, 1] -> dict of per-frame outputs and inter-frame flows.

  Returns:
    heatmaps [B, K, h, w, N], centre [B, K, h, w, 1] (logits), offsets [B, K, h, w, 2N], and
    flows: a list over scales (finest first) of [B, K-1, h_s, w_s, 2] (empty when K = 1); called with
    `backward_flows=True` (and K > 1) also backward_flows, the same for the reversed pairs (t + 1, t): entry t
    moves frame t+1's points to frame t (the forward-backward gate of objective.network_objective).
  """

  def __init__(self, config, **kwargs):
    super().__init__(**kwargs)
    self.config = config
    self.landmark_net = backbone.build_landmark_network(config)
    self.motion_net = motion.build_motion_network(config)

  def call(self, frames, training=False, backward_flows=False):
    batch, num_frames = ops.shape(frames)[0], frames.shape[1]
    size = self.config.input_size
    per_frame = self.landmark_net(ops.reshape(frames, (-1, size, size, 3)), training=training)
    outputs = {k: ops.reshape(v, (batch, num_frames) + tuple(v.shape[1:])) for k, v in per_frame.items()}
    if num_frames == 1:
      outputs["flows"] = []
    elif backward_flows:
      # One motion-net pass over the clips and the clips reversed in time (the MFE keeps no batch statistics):
      # the reversed clip's flow t moves frame K-1-t's points to frame K-2-t, the backward flow K-2-t.
      both = clip_flows(self.motion_net, ops.concatenate([frames, ops.flip(frames, axis=1)], axis=0), training)
      outputs["flows"] = [flow[:batch] for flow in both]
      outputs["backward_flows"] = [ops.flip(flow[batch:], axis=1) for flow in both]
    else:
      outputs["flows"] = clip_flows(self.motion_net, frames, training)
    return outputs

  def detect(self, images):
    """Single frames [B, S, S, 3] -> landmark net outputs (no motion field)."""
    return self.landmark_net(images, training=False)

  def detect_numpy(self, images):
    """`detect` on a NumPy batch [B, S, S, 3] (float32 in [0, 1]) -> the same outputs as NumPy arrays, through
    the backend's compiled predict function (a tf.function or jax.jit, traced once per batch shape) rather
    than a layer-by-layer eager call. A network built under a TensorFlow strategy of several replicas is called
    eagerly: Keras's predict_on_batch would run the whole batch on every replica and concatenate the copies."""
    strategy = getattr(self.landmark_net, "distribute_strategy", None)
    if strategy is not None and strategy.num_replicas_in_sync > 1:
      return {key: ops.convert_to_numpy(value) for key, value in self.detect(images).items()}
    return self.landmark_net.predict_on_batch(images)


def clip_flows(motion_net, frames, training=False):
  """The motion field between consecutive frames [B, K, S, S, 3] (K >= 2) of clips: a list over scales (finest
  first) of [B, K-1, h_s, w_s, 2], from `motion_net` (motion.build_motion_network) on every pair (t, t+1)."""
  batch, num_frames, size = ops.shape(frames)[0], frames.shape[1], frames.shape[2]
  pairs = ops.concatenate([frames[:, :-1], frames[:, 1:]], axis=-1)
  flows = motion_net(ops.reshape(pairs, (-1, size, size, 6)), training=training)
  return [ops.reshape(f, (batch, num_frames - 1) + tuple(f.shape[1:])) for f in flows]


def build_network(config, name):
  network = TSALNetwork(config, name=name)
  network(ops.zeros((1, 2, config.input_size, config.input_size, 3)))
  return network
