"""The per-network TSAL objective: eq. 1 plus eq. 4 (teacher) or eq. 5 (student), as in eq. 6/7.

    L^R = l_s^R + omega(t) L_d^R           (6)  teacher: pseudo-labels = tracking only
    L^S = l_s^S + omega(t) L_d^S           (7)  student: pseudo-labels = mu * tracking + (1 - mu) * p_C
    l_s = L_I + omega(t) L_D + l_M + l_C + l_E   (1)  (L_I with --sic, L_D with --mfds)

keras.ops only: the same function serves the TensorFlow and the JAX train step.
"""

import dataclasses

from keras import ops

from tsal_tf import losses
from tsal_tf.model import decoders


@dataclasses.dataclass(frozen=True)
class ObjectiveConfig:
  """Switches and weights of the objective (flags of the same names in train.py)."""
  sic: bool = True
  mfds: bool = True
  mu: float = 0.6
  heatmap_loss: str = "softmax"
  heatmap_sigma: float = 1.0
  heatmap_weight: float = 1.0
  integral_weight: float = 2.0
  wing_width: float = 0.0  # heatmap pixels; 0: the integral term is L1
  wing_epsilon: float = 0.5
  foreground_weight: float = 10.0
  clor_weight: float = 1.0
  offset_weight: float = 1.0
  flow_weight: float = 1.0
  smoothness_weight: float = 0.1
  ssim_weight: float = 0.0
  sic_weight: float = 10.0
  mfds_weight: float = 0.01
  pseudo_weight: float = 1.0
  fb_gate: float = 0.0  # heatmap pixels; 0: every tracked pseudo-label trains


def decode_all(outputs, decoder="soft_argmax"):
  """p_M (read with `decoder`), p_C and the CLOR offsets O of every frame: each [B, K, N, 2]."""
  heatmaps = outputs["heatmaps"]
  batch, num_frames = ops.shape(heatmaps)[0], heatmaps.shape[1]
  flat = lambda x: ops.reshape(x, (-1,) + tuple(x.shape[2:]))
  unflat = lambda x: ops.reshape(x, (batch, num_frames) + tuple(x.shape[1:]))
  p_m, _ = decoders.decode_lhr(flat(heatmaps), decoder)
  p_c, offsets = decoders.decode_clor(flat(outputs["centre"]), flat(outputs["offsets"]))
  return unflat(p_m), unflat(p_c), unflat(offsets)


def network_objective(outputs, frames, labels, omega, role, config, decoder="soft_argmax", label_weights=None,
                      guide=None):
  """Loss terms of one network on a batch of clips.

  Args:
    outputs: TSALNetwork outputs for frames [B, K, S, S, 3] (values in [0, 1]).
    frames: the same frames.
    labels: frame-0 ground truth p_l [B, N, 2] in heatmap coordinates.
    omega: omega(t), scalar.
    role: "teacher" (eq. 4 targets) or "student" (eq. 5 targets).
    config: ObjectiveConfig.
    decoder: the network's heatmap decoder (NetworkConfig.heatmap_decoder), for the p_M of L_D.
    label_weights: [B] example weights of l_M and l_C, 0 where frame 0 carries no label
      (`TeacherStudent.label_weights`: l_M and l_C become means over the labeled clips); None: every clip is
      labeled. An unlabeled clip trains through l_E, L_I, L_D and L_d only.
    guide: [B, N, 2] where tracking starts (the pseudo-labels' phi(V, guide)): the labels where labeled and a
      detection elsewhere (`TeacherStudent.tracking_guide`); required with `label_weights`, None: the labels.

  With config.fb_gate > 0 (the forward-backward gate of SBR, Dong et al. 2018), a tracked point trains L_d only
  where tracking it back to frame 0 with outputs["backward_flows"] lands within fb_gate heatmap pixels of its
  start (`decoders.forward_backward_error`); the student's gated target is dropped whole (its p_C part too).

  Returns:
    dict of scalar terms: l_M, l_C, l_E, L_I, L_D, L_d (weighted by their config weights), total, and
    share/<term>: each term's contribution to the total (omega included for L_D and L_d), summing to 1; with
    the gate also fb_kept, the fraction of tracked points that passed it (logged, not a loss).
  """
  heatmaps = outputs["heatmaps"]
  terms = {}
  terms["l_M"] = config.heatmap_weight * losses.heatmap_loss(heatmaps[:, 0], labels, config, label_weights)
  terms["l_C"] = config.clor_weight * losses.clor_loss(outputs["centre"][:, 0], outputs["offsets"][:, 0], labels,
                                                       offset_weight=config.offset_weight, weights=label_weights)
  flows = outputs["flows"]
  p_m, p_c, offsets = decode_all(outputs, decoder)
  zero = ops.zeros(())
  terms["l_E"] = (config.flow_weight * losses.flow_loss(frames, flows, config.smoothness_weight, config.ssim_weight)
                  if flows else zero)
  terms["L_I"] = config.sic_weight * losses.structure_invariance_loss(offsets, p_c) if config.sic else zero
  terms["L_D"] = (config.mfds_weight * losses.motion_deviation_loss(flows[0], p_m[:, 0], p_m[:, -1])
                  if config.mfds and flows else zero)
  if flows and label_weights is not None and guide is None:
    raise ValueError("a partially labeled batch needs a tracking guide for its unlabeled clips")
  if flows:
    tracks = decoders.track(flows[0], labels if guide is None else ops.stop_gradient(guide))
    keep = None
    if config.fb_gate > 0:
      if "backward_flows" not in outputs:
        raise ValueError("the forward-backward gate (fb_gate > 0) needs the network's backward_flows output")
      errors = decoders.forward_backward_error(ops.stop_gradient(tracks), ops.stop_gradient(
          outputs["backward_flows"][0]))
      keep = ops.cast(errors <= config.fb_gate, "float32")
      terms["fb_kept"] = ops.mean(keep)  # logged only: the share of tracked points that train
    tracked = tracks[:, 1:]
    pseudo = tracked if role == "teacher" else losses.student_target(tracked, p_c[:, 1:], config.mu)
    terms["L_d"] = config.pseudo_weight * losses.pseudo_heatmap_loss(heatmaps[:, 1:], pseudo, config, keep)
  else:
    terms["L_d"] = zero
  contributions = {"L_I": terms["L_I"], "L_D": omega * terms["L_D"], "l_M": terms["l_M"], "l_C": terms["l_C"],
                   "l_E": terms["l_E"], "L_d": omega * terms["L_d"]}
  terms["total"] = sum(contributions.values())
  for name, value in contributions.items():  # each term's part of the total (TensorBoard: <role>/share/<term>)
    terms[f"share/{name}"] = ops.stop_gradient(value / ops.maximum(terms["total"], 1e-12))
  return terms
