"""TSAL losses, one named function per term (keras.ops; equation numbers from the paper).

Coordinates are heatmap coordinates (0-based pixel centres of the h x w maps); batches of clips have
B clips of K frames. Targets derived from predictions (pseudo-labels) are wrapped in stop_gradient.
"""

import math

from keras import ops

from tsal_tf import ops as tsal_ops
from tsal_tf.model import decoders


def gaussian_heatmaps(points, height, width, sigma):
  """Render points [..., N, 2] as Gaussians exp(-((x-px)^2 + (y-py)^2) / (2 sigma^2)) -> [..., h, w, N]."""
  xs = ops.reshape(ops.arange(width, dtype="float32"), (width, 1))
  ys = ops.reshape(ops.arange(height, dtype="float32"), (height, 1, 1))
  px = ops.expand_dims(ops.expand_dims(points[..., 0], -2), -2)  # [..., 1, 1, N]
  py = ops.expand_dims(ops.expand_dims(points[..., 1], -2), -2)
  return ops.exp(-((xs - px) ** 2 + (ys - py) ** 2) / (2.0 * sigma * sigma))


def example_mean(values, weights=None):
  """Mean of values [B, ...]; with example weights w [B], 1/B sum_b w_b mean(values_b).

  A partially labeled batch passes w_b = m_b B / n (m_b = 1 for a labeled clip, 0 otherwise; n the labeled
  clips per replica, `TeacherStudent.label_weights`), which makes the result the mean over the labeled clips.
  """
  if weights is None:
    return ops.mean(values)
  return ops.mean(weights * ops.mean(ops.reshape(values, (ops.shape(values)[0], -1)), axis=1))


def heatmap_mse(predicted, target, foreground_weight=0.0, weights=None, point_weights=None):
  """The paper's l_M: mean over all elements of w * (H - H*)^2 (Dong et al.'s heatmap regression).

  w = 1 + foreground_weight * [H* > 0.1] up-weights the few pixels near each landmark (the weighted loss map
  of Adaptive Wing); foreground_weight = 0 is plain MSE. `weights` [B]: see `example_mean`; `point_weights`
  [..., N] (the maps' leading axes): each landmark map's weight, e.g. 0 for a gated pseudo-label.
  """
  predicted = ops.convert_to_tensor(predicted)
  target = ops.stop_gradient(ops.cast(target, predicted.dtype))
  weight = 1.0 + foreground_weight * ops.cast(target > 0.1, predicted.dtype)
  if point_weights is not None:
    weight = weight * ops.expand_dims(ops.expand_dims(ops.stop_gradient(point_weights), -2), -2)
  return example_mean(weight * ops.square(predicted - target), weights)


def wing(errors, width, epsilon):
  """Wing loss (Feng et al., CVPR 2018) of each element x of `errors`:

    width * ln(1 + |x| / epsilon)                         for |x| < width,
    |x| - width + width * ln(1 + width / epsilon)         otherwise (continuous at |x| = width).

  Its slope width / (epsilon + |x|) is width / epsilon at 0 and 1 (L1's) beyond `width`: small errors weigh up
  to width / epsilon times more than under L1, large ones as much.
  """
  magnitude = ops.abs(errors)
  offset = width - width * math.log1p(width / epsilon)
  return ops.where(magnitude < width, width * ops.log1p(magnitude / epsilon), magnitude - offset)


def heatmap_softmax_loss(logits, points, sigma, integral_weight=0.5, weights=None, point_weights=None,
                         wing_width=0.0, wing_epsilon=0.5):
  """LHR loss on heatmap logits [..., h, w, N] for target points [..., N, 2] (heatmap pixels):

    KL(q_n || softmax(logits_n)) + integral_weight * mean rho(soft_argmax(logits) - points),
    q_n = G(clip(points_n)) / sum G   (a normalised Gaussian of `sigma`, centre clipped into the map),
    rho = |.| (L1), or `wing(., wing_width, wing_epsilon)` where wing_width > 0; per coordinate.

  The KL (cross-entropy minus the target's entropy, so 0 at the optimum) shapes each map into one peak at
  the landmark; the integral L1 (Sun et al., ECCV 2018) pulls the distribution's mean, the soft-argmax that
  `decoders.decode_lhr` reads out, onto the point, and keeps gradients alive where the target Gaussian does
  not overlap the prediction yet. Mean over landmarks and batch (`weights` [B]: see `example_mean`;
  `point_weights` [..., N]: each landmark's weight in that mean, e.g. 0 for a gated pseudo-label).
  """
  logits = ops.convert_to_tensor(logits)
  points = ops.stop_gradient(ops.cast(points, "float32"))
  height, width = logits.shape[-3], logits.shape[-2]
  inside = ops.stack([ops.clip(points[..., 0], 0.0, width - 1.0), ops.clip(points[..., 1], 0.0, height - 1.0)], -1)
  target = gaussian_heatmaps(inside, height, width, sigma)
  target = target / ops.sum(target, axis=(-3, -2), keepdims=True)
  log_p = decoders.spatial_log_softmax(logits)
  kl = ops.sum(target * (ops.log(target + 1e-12) - log_p), axis=(-3, -2))
  errors = decoders.soft_argmax(logits) - points
  integral = wing(errors, wing_width, wing_epsilon) if wing_width > 0 else ops.abs(errors)
  if point_weights is not None:
    point_weights = ops.stop_gradient(point_weights)
    kl, integral = point_weights * kl, ops.expand_dims(point_weights, -1) * integral
  return example_mean(kl, weights) + integral_weight * example_mean(integral, weights)


def heatmap_loss(heatmaps, points, config, weights=None, point_weights=None):
  """l_M between heatmaps [..., h, w, N] and points [..., N, 2] with the loss of `config` (ObjectiveConfig):
  "softmax" (`heatmap_softmax_loss`) or "mse" (the paper's, `heatmap_mse` on rendered Gaussians).
  `weights` [B]: per-example weights of the leading axis (`example_mean`); `point_weights` [..., N]: per
  landmark."""
  if config.heatmap_loss == "softmax":
    return heatmap_softmax_loss(heatmaps, points, config.heatmap_sigma, config.integral_weight, weights,
                                point_weights, config.wing_width, config.wing_epsilon)
  height, width = heatmaps.shape[-3], heatmaps.shape[-2]
  target = gaussian_heatmaps(ops.stop_gradient(points), height, width, config.heatmap_sigma)
  return heatmap_mse(heatmaps, target, config.foreground_weight, weights, point_weights)


def centre_focal_loss(logits, target, weights=None):
  """CenterNet focal loss on the face-centre maps [B, h, w, 1] (alpha 2, beta 4), normalised by the peaks:

    L = -1/P * sum[ y==1: (1-p)^2 log p ;  y<1: (1-y)^4 p^2 log(1-p) ],  p = sigmoid(logits).
  `target` has value exactly 1 at each centre pixel (P of them, one per map) and a Gaussian around it. With
  example weights w [B] (`example_mean`), map b's sum is scaled by w_b.
  """
  p = ops.clip(ops.sigmoid(logits), 1e-6, 1.0 - 1e-6)
  positive = ops.cast(target >= 1.0, "float32")
  pos_term = positive * ops.square(1.0 - p) * ops.log(p)
  neg_term = (1.0 - positive) * ops.power(1.0 - target, 4.0) * ops.square(p) * ops.log(1.0 - p)
  if weights is not None:
    weights = ops.reshape(weights, (-1, 1, 1, 1))
    pos_term, neg_term = weights * pos_term, weights * neg_term
  return -ops.sum(pos_term + neg_term) / ops.maximum(ops.sum(positive), 1.0)


def centre_target(points, height, width, sigma_scale=0.1):
  """CLOR targets from landmarks [B, N, 2]: (centre map [B,h,w,1], centre pixel index [B], offsets [B,N,2]).

  The face centre is the landmark-box centre rounded to the nearest pixel c (the CLOR centre); the map is
  exp(-|x - c|^2 / (2 s^2)) with s = max(1, sigma_scale * box width); offsets are points - c.
  """
  low, high = ops.min(points, axis=1), ops.max(points, axis=1)
  centre = ops.clip(ops.round(0.5 * (low + high)), 0.0, float(min(height, width) - 1))
  sigma = ops.maximum(1.0, sigma_scale * (high[:, 0] - low[:, 0]))
  xs = ops.reshape(ops.arange(width, dtype="float32"), (1, 1, width))
  ys = ops.reshape(ops.arange(height, dtype="float32"), (1, height, 1))
  cx = ops.reshape(centre[:, 0], (-1, 1, 1))
  cy = ops.reshape(centre[:, 1], (-1, 1, 1))
  heat = ops.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2.0 * ops.reshape(sigma, (-1, 1, 1)) ** 2))
  index = ops.cast(centre[:, 1] * width + centre[:, 0], "int32")
  return ops.expand_dims(heat, -1), index, points - ops.expand_dims(centre, 1)


def offset_l1(offsets, centre_index, target_offsets, weights=None):
  """CenterNet offset regression: mean |O[c] - (p - c)| / offset_scale at the true centre pixel c."""
  scale = decoders.offset_scale(offsets.shape[1])
  predicted = decoders.offsets_at(offsets, centre_index)
  return example_mean(ops.abs(predicted - ops.stop_gradient(target_offsets)), weights) / scale


def clor_loss(centre_logits, offsets, points, sigma_scale=0.1, offset_weight=1.0, weights=None):
  """l_C(C, O) = focal(C) + offset_weight * L1(O) for frames [B, ...] with landmarks [B, N, 2]; example
  weights [B]: see `example_mean`."""
  height, width = centre_logits.shape[1], centre_logits.shape[2]
  heat, index, target_offsets = centre_target(points, height, width, sigma_scale)
  return (centre_focal_loss(centre_logits, heat, weights)
          + offset_weight * offset_l1(offsets, index, target_offsets, weights))


def charbonnier(x, epsilon=1e-3, alpha=0.45):
  """Robust penalty (x^2 + eps^2)^alpha."""
  return ops.power(ops.square(x) + epsilon * epsilon, alpha)


def _resize_frames(frames, size):
  """Average-pool frames [B, K, S, S, 3] down to [B, K, size, size, 3]."""
  batch, num_frames, full = ops.shape(frames)[0], frames.shape[1], frames.shape[2]
  factor = full // size
  x = ops.reshape(frames, (-1, full, full, 3))
  if factor > 1:
    x = ops.average_pool(x, factor, factor, padding="valid")
  return ops.reshape(x, (batch, num_frames, size, size, 3))


def ssim_dissimilarity(x, y, c1=0.01 ** 2, c2=0.03 ** 2):
  """Mean of (1 - SSIM(x, y)) / 2 over 3x3 windows (valid), clipped to [0, 1]; x, y [B, h, w, C] in [0, 1].

  SSIM = (2 mu_x mu_y + c1)(2 s_xy + c2) / ((mu_x^2 + mu_y^2 + c1)(s_x + s_y + c2)), with window means mu and
  (co)variances s (Wang et al. 2004; the 3x3 form of unsupervised flow and depth losses).
  """
  pool = lambda t: ops.average_pool(t, 3, 1, padding="valid")
  mu_x, mu_y = pool(x), pool(y)
  s_x = pool(x * x) - mu_x * mu_x
  s_y = pool(y * y) - mu_y * mu_y
  s_xy = pool(x * y) - mu_x * mu_y
  ssim = ((2 * mu_x * mu_y + c1) * (2 * s_xy + c2)) / ((mu_x * mu_x + mu_y * mu_y + c1) * (s_x + s_y + c2))
  return ops.mean(ops.clip((1.0 - ssim) / 2.0, 0.0, 1.0))


def flow_loss(frames, flows, smoothness_weight=0.1, ssim_weight=0.0):
  """l_E: unsupervised MotionNet loss, summed over scales (finest first):

    photometric: mean charbonnier(warp(I_{t+1}, V_t) - I_t), frames average-pooled to the flow's scale;
    structural:  ssim_weight * ssim_dissimilarity(warp(I_{t+1}, V_t), I_t) (MotionNet's SSIM term; 0 = off);
    smoothness:  mean charbonnier of the flow's horizontal and vertical differences.
  frames [B, K, S, S, 3] in [0, 1]; flows: list of [B, K-1, h_s, w_s, 2].
  """
  total = 0.0
  for flow in flows:
    size = flow.shape[2]
    pooled = _resize_frames(frames, size)
    current = ops.reshape(pooled[:, :-1], (-1, size, size, 3))
    following = ops.reshape(pooled[:, 1:], (-1, size, size, 3))
    field = ops.reshape(flow, (-1, size, size, 2))
    warped = tsal_ops.dense_warp(following, field)
    photometric = ops.mean(charbonnier(warped - current))
    if ssim_weight:
      photometric = photometric + ssim_weight * ssim_dissimilarity(warped, current)
    smooth = (ops.mean(charbonnier(field[:, 1:] - field[:, :-1]))
              + ops.mean(charbonnier(field[:, :, 1:] - field[:, :, :-1])))
    total = total + photometric + smoothness_weight * smooth
  return total


def structure_invariance_loss(offsets_per_frame, p_c_per_frame):
  """L_I (eq. 2) = 1/K * sum_{i<j} (m_i / bw_i - m_j / bw_j)^2.

  m_i = mean over the N landmarks of ||O_n(i)|| (the offset modulus, read at frame i's predicted centre);
  bw_i = max_n x - min_n x of p_C(i) (stop-gradient: the constraint moves the offsets, not the normaliser).
  offsets_per_frame, p_c_per_frame: [B, K, N, 2]. Averaged over the batch.
  """
  modulus = ops.mean(ops.sqrt(ops.sum(ops.square(offsets_per_frame), axis=-1) + 1e-8), axis=-1)  # [B, K]
  xs = ops.stop_gradient(p_c_per_frame[..., 0])
  width = ops.maximum(ops.max(xs, axis=-1) - ops.min(xs, axis=-1), 1.0)
  normalised = modulus / width
  num_frames = normalised.shape[1]
  differences = ops.expand_dims(normalised, 2) - ops.expand_dims(normalised, 1)  # [B, K, K]
  upper = ops.triu(ops.ones((num_frames, num_frames)), k=1)
  return ops.mean(ops.sum(ops.square(differences) * upper, axis=(1, 2))) / num_frames


def motion_deviation_loss(flows, p_m_first, p_m_last):
  """L_D (eq. 3) = ||phi(V, p_M^(0))^(K-1) - p_M^(K-1)||^2, mean over landmarks and batch.

  flows [B, K-1, h, w, 2] (finest scale); p_M are stop-gradient targets [B, N, 2]: only the MFE learns.
  """
  tracked = decoders.track(flows, ops.stop_gradient(p_m_first))[:, -1]
  return ops.mean(ops.sum(ops.square(tracked - ops.stop_gradient(p_m_last)), axis=-1))


def pseudo_heatmap_loss(heatmaps, target_points, config, keep=None):
  """Eq. 4/5: the LHR loss of the unlabeled frames' heatmaps [B, K-1, h, w, N] against pseudo-label points
  [B, K-1, N, 2] (stop-gradient), rendered as in l_M (editor's note 2); mean over frames and batch. `keep`
  [B, K-1, N] (0 or 1, the forward-backward gate): a dropped point adds 0 to that mean, so a gate that drops
  more lowers L_d rather than weighing the kept points more."""
  return heatmap_loss(heatmaps, ops.stop_gradient(target_points), config, point_weights=keep)


def student_target(tracked, p_c, mu):
  """Eq. 5 (read as in the text): mu * phi(V^S, p_l) + (1 - mu) * p_C^S."""
  return mu * tracked + (1.0 - mu) * p_c


def omega(epoch, climb_end=60.0, retain_end=110.0, decay_end=140.0):
  """omega(t), mean-teacher style ramp (editor's note 5), t = epoch (float, 0-based).

  climb   (t < climb_end):               exp(-5 (1 - t / climb_end)^2)
  retain  (climb_end <= t < retain_end): 1
  decay   (t >= retain_end):             exp(-12.5 T^2), T = (t - retain_end) / (decay_end - retain_end) in [0, 1]
  """
  epoch = ops.cast(epoch, "float32")
  climb = ops.exp(-5.0 * ops.square(1.0 - ops.clip(epoch / max(climb_end, 1e-6), 0.0, 1.0)))
  decay_t = ops.clip((epoch - retain_end) / max(decay_end - retain_end, 1e-6), 0.0, 1.0)
  decay = ops.exp(-12.5 * ops.square(decay_t))
  return ops.where(epoch < climb_end, climb, ops.where(epoch < retain_end, 1.0, decay))
