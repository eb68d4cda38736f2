"""Evaluation of a TSALNetwork: each source (p_M, p_C, tracking, fused) on images and clips, as NME etc.

Predictions are made in heatmap coordinates and mapped to crop pixels; NME is scale-free, so crop-pixel
errors give the same NME as source-image errors (the crop is a similarity transform).
"""

import numpy as np
from keras import ops

from tsal_tf import metrics
from tsal_tf.model import decoders


def predict_images(net, images, gamma=0.8, batch_size=32):
  """images uint8 [M, S, S, 3] -> {"p_M", "p_C", "fused"}: [M, N, 2] in crop pixels, "confidence" [M, N]."""
  stride = net.config.heatmap_stride
  results = {"p_M": [], "p_C": [], "fused": [], "confidence": []}
  for start in range(0, len(images), batch_size):
    batch = ops.convert_to_tensor(np.asarray(images[start:start + batch_size], np.float32) / 255.0)
    outputs = net.detect(batch)
    p_m, confidence = decoders.decode_lhr(outputs["heatmaps"])
    p_c, _ = decoders.decode_clor(outputs["centre"], outputs["offsets"])
    for key, value in (("p_M", p_m), ("p_C", p_c), ("fused", decoders.fuse(p_m, p_c, gamma))):
      results[key].append(decoders.to_crop_coords(ops.convert_to_numpy(value), stride))
    results["confidence"].append(ops.convert_to_numpy(confidence))
  return {k: np.concatenate(v) for k, v in results.items()}


def track_clips(net, frames, start_points):
  """Track frame-0 points through clips: frames uint8 [M, K, S, S, 3], start [M, N, 2] crop px -> [M, K, N, 2]."""
  stride = net.config.heatmap_stride
  outputs = net(ops.convert_to_tensor(np.asarray(frames, np.float32) / 255.0))
  start = ops.convert_to_tensor(decoders.to_heatmap_coords(np.asarray(start_points, np.float32), stride))
  return decoders.to_crop_coords(ops.convert_to_numpy(decoders.track(outputs["flows"][0], start)), stride)


def evaluate_images(net, images, landmarks, normalizer="inter_pupil", gamma=0.8):
  """{source: metrics.summarize(per-face NME)} for p_M, p_C and fused, plus the per-face errors."""
  predictions = predict_images(net, images, gamma)
  errors = {k: metrics.per_face_nme(predictions[k], landmarks, normalizer) for k in ("p_M", "p_C", "fused")}
  return {k: metrics.summarize(v) for k, v in errors.items()}, errors


def evaluate_tracking(net, frames, landmarks, normalizer="inter_pupil", batch_size=8):
  """NME of tracking from the frame-0 ground truth on the unlabeled frames 1..K-1 of clips."""
  errors = []
  for start in range(0, len(frames), batch_size):
    tracks = track_clips(net, frames[start:start + batch_size], landmarks[start:start + batch_size, 0])
    errors.append(metrics.per_face_nme(tracks[:, 1:], landmarks[start:start + batch_size, 1:], normalizer))
  errors = np.concatenate(errors).ravel()
  return metrics.summarize(errors), errors
