"""Decoders from network outputs to landmarks (keras.ops; heatmap coordinates, 0-based pixel centres).

* p_M (LHR), by NetworkConfig.heatmap_decoder:
    "soft_argmax": the expected coordinates under the spatial softmax of each landmark's logits, the quantity
      the integral L1 of the softmax loss trains;
    "argmax": the custom op's integer argmax, then a parabola through the peak and its neighbours per axis
      (ops.heatmap_to_coords; the decoder of MSE-trained heatmaps).
* p_C (CLOR): integer peak c of the face-centre heatmap plus the offsets regressed at c:
      p_C = c + offset_scale * O[c].
* tracking phi(V, g): start at g (frame 0) and chain bilinear flow samples, g_{t+1} = g_t + V_t(g_t).
* forward-backward check (SBR): chain the backward flows from a tracked point of frame k to frame 0 and measure
  how far it lands from g.
* flip test: a prediction averaged with that of the mirror image, mapped back (`average_with_mirror`).
* fusion: p = gamma * p_M + (1 - gamma) * p_C  (paper: gamma = 0.8).

Crop pixels u and heatmap coordinates v relate by the pixel-centre rule v = (u + 0.5) / stride - 0.5.
"""

from keras import ops

from tsal_tf import ops as tsal_ops


def offset_scale(heatmap_size):
  """Offsets are regressed in units of heatmap_size / 8 pixels (keeps targets near [-1, 1])."""
  return heatmap_size / 8.0


def to_heatmap_coords(points, stride):
  return (points + 0.5) / stride - 0.5


def to_crop_coords(points, stride):
  return (points + 0.5) * stride - 0.5


def centre_peak(centre_logits):
  """Integer argmax of the centre map [B, h, w, 1] -> (flat index [B], (x, y) float [B, 2])."""
  batch, height, width, _ = ops.shape(centre_logits)
  index = ops.argmax(ops.reshape(centre_logits, (batch, height * width)), axis=-1)
  xy = ops.stack([ops.cast(index % width, "float32"), ops.cast(index // width, "float32")], axis=-1)
  return index, xy


def offsets_at(offsets, flat_index):
  """Offsets [B, h, w, 2N] read at flat pixel indices [B] -> [B, N, 2] in heatmap pixels (differentiable)."""
  batch, height, width, channels = ops.shape(offsets)
  flat = ops.reshape(offsets, (batch, height * width, channels))
  # Clipped: the argmax of a diverged (NaN) centre map is not a pixel, and the NaN must reach the loss (where
  # the NaN guard names it) instead of failing the gather.
  index = ops.clip(ops.cast(flat_index, "int32"), 0, height * width - 1)
  picked = ops.take_along_axis(flat, ops.reshape(index, (batch, 1, 1)), axis=1)
  return ops.reshape(picked, (batch, channels // 2, 2)) * offset_scale(height)


def decode_clor(centre_logits, offsets):
  """p_C [B, N, 2] = integer centre peak + offsets there; also returns the offsets O [B, N, 2]."""
  index, centre = centre_peak(ops.stop_gradient(centre_logits))
  regressed = offsets_at(offsets, index)
  return ops.expand_dims(centre, 1) + regressed, regressed


def spatial_log_softmax(logits):
  """log p_n(x, y) = logits_n(x, y) - logsumexp over the h x w pixels of channel n: [..., h, w, N] -> same."""
  logits = ops.convert_to_tensor(logits)
  height, width, channels = logits.shape[-3:]
  flat = ops.reshape(logits, (-1, height * width, channels))
  return ops.reshape(ops.log_softmax(flat, axis=1), ops.shape(logits))


def soft_argmax(logits):
  """Integral (expected) coordinates under p = spatial softmax(logits): [..., h, w, N] -> [..., N, 2] (x, y)."""
  p = ops.exp(spatial_log_softmax(logits))
  height, width = p.shape[-3], p.shape[-2]
  xs = ops.reshape(ops.arange(width, dtype="float32"), (width, 1))
  ys = ops.reshape(ops.arange(height, dtype="float32"), (height, 1, 1))
  return ops.stack([ops.sum(p * xs, axis=(-3, -2)), ops.sum(p * ys, axis=(-3, -2))], axis=-1)


HEATMAP_DECODERS = ("soft_argmax", "argmax")


def decode_lhr(heatmaps, method="soft_argmax"):
  """p_M [B, N, 2] and confidence [B, N] from heatmap logits [B, h, w, N] (`method` in HEATMAP_DECODERS).

  confidence = the spatial-softmax probability of the peak pixel, exp(max - logsumexp) in (0, 1].
  """
  batch, height, width, channels = ops.shape(heatmaps)
  flat = ops.reshape(heatmaps, (batch, height * width, channels))
  confidence = ops.exp(ops.max(flat, axis=1) - ops.logsumexp(flat, axis=1))
  if method == "soft_argmax":
    return soft_argmax(heatmaps), confidence
  if method == "argmax":
    return tsal_ops.heatmap_to_coords(heatmaps)[0], confidence
  raise ValueError(f"unknown heatmap decoder {method!r} (choose from {HEATMAP_DECODERS})")


def average_with_mirror(plain, mirrored, width, flip_permutation, mirror_shift=0.0):
  """The flip test's merge: points [B, N, 2] predicted on B images and [B, N, 2] on their mirror images -> [B, N, 2]:

    p_n = (plain_n + m(mirrored)_n) / 2,  m(q)_n = (width - 1 - q_x + mirror_shift, q_y) of point flip_permutation[n]
  in the pixel centres of any grid `width` pixels wide (a crop: S; its heatmaps: w = S / stride; the mirror
  x -> S - 1 - x of the crop is x -> w - 1 - x on its heatmaps). mirror_shift: `augment.centre_mirror_shift`, in
  the same pixels.
  """
  mapped = ops.stack([(width - 1.0 + mirror_shift) - mirrored[..., 0], mirrored[..., 1]], axis=-1)
  return 0.5 * (plain + ops.take(mapped, list(flip_permutation), axis=1))


def average_confidence_with_mirror(plain, mirrored, flip_permutation):
  """The flip test's merge of confidences [B, N] on B images and on their mirror images: (c_n + c'_{perm[n]}) / 2."""
  return 0.5 * (plain + ops.take(mirrored, list(flip_permutation), axis=1))


def flip_test_lhr(heatmaps, flip_permutation, method="soft_argmax", mirror_shift=0.0):
  """The flip test on heatmap logits [2B, h, w, N] of B images followed by their B mirror images -> p_M [B, N, 2]
  (`average_with_mirror` on the heatmap grid; mirror_shift in heatmap pixels)."""
  points, _ = decode_lhr(heatmaps, method)
  half = ops.shape(heatmaps)[0] // 2
  return average_with_mirror(points[:half], points[half:], heatmaps.shape[2], flip_permutation, mirror_shift)


def track(flows, start):
  """phi(V, g): flows [B, K-1, h, w, 2] (finest scale), start [B, N, 2] -> tracks [B, K, N, 2]."""
  points = [start]
  for t in range(flows.shape[1]):
    points.append(points[-1] + tsal_ops.sample_points(flows[:, t], points[-1]))
  return ops.stack(points, axis=1)


def forward_backward_error(tracks, backward_flows):
  """SBR's forward-backward check: how far each tracked point lands from where its track started when it is
  tracked back to frame 0.

  tracks [B, K, N, 2] (phi(V, g), `track`), backward_flows [B, K-1, h, w, 2] (finest scale; entry t moves frame
  t+1's points to frame t) -> errors [B, K-1, N]: for frame k >= 1, |b_0 - g| with b_k = tracks[:, k] and
  b_{t} = b_{t+1} + backward_flows[:, t](b_{t+1}) for t = k-1, ..., 0 (heatmap pixels).
  """
  start, errors = tracks[:, 0], []
  for k in range(1, tracks.shape[1]):
    back = tracks[:, k]
    for t in range(k - 1, -1, -1):
      back = back + tsal_ops.sample_points(backward_flows[:, t], back)
    errors.append(ops.sqrt(ops.sum(ops.square(back - start), axis=-1)))
  return ops.stack(errors, axis=1)


def fuse(p_m, p_c, gamma=0.8):
  return gamma * p_m + (1.0 - gamma) * p_c
