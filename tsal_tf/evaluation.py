"""Evaluation of a TSALNetwork: each source (p_M, p_C, tracking, fused) on images and clips, as NME etc.

Predictions are made in heatmap coordinates and mapped to crop pixels; NME is scale-free, so crop-pixel
errors give the same NME as source-image errors (the crop is a similarity transform).
"""

import dataclasses
import os

import numpy as np
from keras import ops

from tsal_tf import metrics
from tsal_tf import runs
from tsal_tf.data import augment
from tsal_tf.data import formats
from tsal_tf.model import decoders


def predict_images(net, images, gamma=0.8, batch_size=32, flip_test=False, mirror_shift=0.0):
  """images uint8 [M, S, S, 3] -> {"p_M", "p_C", "fused"}: [M, N, 2] in crop pixels, "confidence" [M, N].

  flip_test: also predict the mirrored images and average each source with its mirror image mapped back
  (x -> S - 1 - x + mirror_shift and the scheme's left/right permutation): twice the compute, a steadier
  read-out. mirror_shift: `augment.centre_mirror_shift` of the run's --label_x_offset (a model trained with
  it labels a mirrored crop that far off the plain mirror, augment.flip_offset).
  """
  plain, flipped = _predict(net, images, gamma, batch_size, flip_test, mirror_shift)
  return flipped if flip_test else plain


def predict_images_plain_and_flip_test(net, images, gamma=0.8, batch_size=32, mirror_shift=0.0):
  """(predict_images without, predict_images with the flip test) from one pass over both views."""
  return _predict(net, images, gamma, batch_size, True, mirror_shift)


def _predict(net, images, gamma, batch_size, flip_test, mirror_shift):
  """(plain predictions, flip-test predictions or None) as in predict_images."""
  from tsal_tf.data import schemes
  stride = net.config.heatmap_stride
  keys = ("p_M", "p_C", "fused", "confidence")
  results = {name: {k: [] for k in keys} for name in (("plain", "flipped") if flip_test else ("plain",))}
  for start in range(0, len(images), batch_size):
    batch = np.asarray(images[start:start + batch_size])
    views = [batch, batch[:, :, ::-1]] if flip_test else [batch]
    predicted = []
    for view in views:
      outputs = net.detect_numpy(view.astype(np.float32) / 255.0)
      p_m, confidence = decoders.decode_lhr(outputs["heatmaps"], net.config.heatmap_decoder)
      p_c, _ = decoders.decode_clor(outputs["centre"], outputs["offsets"])
      predicted.append({"p_M": decoders.to_crop_coords(ops.convert_to_numpy(p_m), stride),
                        "p_C": decoders.to_crop_coords(ops.convert_to_numpy(p_c), stride),
                        "confidence": ops.convert_to_numpy(confidence)})
    merged = {"plain": predicted[0]}
    if flip_test:
      scheme, size = schemes.scheme_for(net.config.num_points), batch.shape[2]
      plain, mirrored = predicted
      flipped = {key: ops.convert_to_numpy(decoders.average_with_mirror(
          plain[key], mirrored[key], size, scheme.flip_permutation, mirror_shift)) for key in ("p_M", "p_C")}
      flipped["confidence"] = ops.convert_to_numpy(decoders.average_confidence_with_mirror(
          plain["confidence"], mirrored["confidence"], scheme.flip_permutation))
      merged["flipped"] = flipped
    for name, prediction in merged.items():
      prediction["fused"] = decoders.fuse(prediction["p_M"], prediction["p_C"], gamma)
      for key in keys:
        results[name][key].append(prediction[key])
  stacked = {name: {k: np.concatenate(v) for k, v in lists.items()} for name, lists in results.items()}
  return stacked["plain"], stacked.get("flipped")


def run_mirror_shift(run_flags, size):
  """The flip test's mirror shift (crop pixels) for a run trained with --label_x_offset (0 without it)."""
  return augment.centre_mirror_shift(size, float(run_flags.get("label_x_offset", 0.0)),
                                     float(run_flags.get("crop_margin", augment.CROP_MARGIN)))


def face_metrics(predictions, landmarks, subsets, normalizers=("inter_pupil", "inter_ocular"), threshold=0.08):
  """{subset: {normalizer: {source: metrics.summarize}}} of predict_images' output on labeled faces.

  `subsets` [M] names each face's folder (e.g. 300w_helen_test); the subset "all" holds every face (the 554 of
  the 300W common set for HELEN test + LFPW test).
  """
  report = {}
  for group, mask in metrics.subset_masks(subsets).items():
    report[group] = {normalizer: {source: metrics.summarize(
        metrics.per_face_nme(predictions[source][mask], landmarks[mask], normalizer), threshold)
        for source in ("p_M", "p_C", "fused")} for normalizer in normalizers}
  return report


def track_clips(net, frames, start_points, batch_size=8, fb_errors=False):
  """Track frame-0 points through clips: frames uint8 [M, K, S, S, 3], start [M, N, 2] crop px -> [M, K, N, 2].

  With `fb_errors`, (tracks, errors [M, K-1, N]): each tracked point's forward-backward error in heatmap pixels
  (`decoders.forward_backward_error`, what `train --fb_gate` compares with its gate).
  """
  stride = net.config.heatmap_stride
  tracks, errors = [], []
  for i in range(0, len(frames), batch_size):
    outputs = net(ops.convert_to_tensor(np.asarray(frames[i:i + batch_size], np.float32) / 255.0),
                  backward_flows=fb_errors)
    start = ops.convert_to_tensor(decoders.to_heatmap_coords(np.asarray(start_points[i:i + batch_size], np.float32),
                                                             stride))
    track = decoders.track(outputs["flows"][0], start)
    tracks.append(decoders.to_crop_coords(ops.convert_to_numpy(track), stride))
    if fb_errors:
      errors.append(ops.convert_to_numpy(decoders.forward_backward_error(track, outputs["backward_flows"][0])))
  return (np.concatenate(tracks), np.concatenate(errors)) if fb_errors else np.concatenate(tracks)


def evaluate_images(net, images, landmarks, normalizer="inter_pupil", gamma=0.8):
  """{source: metrics.summarize(per-face NME)} for p_M, p_C and fused, plus the per-face errors."""
  predictions = predict_images(net, images, gamma)
  errors = {k: metrics.per_face_nme(predictions[k], landmarks, normalizer) for k in ("p_M", "p_C", "fused")}
  return {k: metrics.summarize(v) for k, v in errors.items()}, errors


def evaluate_tracking(net, frames, landmarks, normalizer="inter_pupil", tracked=None):
  """NME of tracking from the frame-0 ground truth on the unlabeled frames 1..K-1 of clips.

  `tracked` [M, K, N, 2] reuses tracks already computed with track_clips.
  """
  tracked = track_clips(net, frames, landmarks[:, 0]) if tracked is None else tracked
  errors = metrics.per_face_nme(tracked[:, 1:], landmarks[:, 1:], normalizer).ravel()
  return metrics.summarize(errors), errors


def zero_motion_tracking(landmarks, normalizer="inter_pupil", threshold=0.08):
  """NME of "tracking" that predicts no motion, frame 0's points copied to frames 1..K-1 of clips
  [M, K, N, 2]: the floor a motion field must beat to be of use (as evaluate_tracking: summary, errors)."""
  landmarks = np.asarray(landmarks)
  copied = np.broadcast_to(landmarks[:, :1], landmarks[:, 1:].shape)
  errors = metrics.per_face_nme(copied, landmarks[:, 1:], normalizer).ravel()
  return metrics.summarize(errors, threshold), errors


def mean_shape_errors(train_dir, test_dirs, size, normalizer="inter_pupil"):
  """Per-face NME of predicting the mean training shape in every test crop (a floor any model must beat)."""
  from tsal_tf.data import schemes, sources
  train = sources.ImageSource(formats.load_pts_folder(train_dir), size, schemes.IBUG68)
  test_dirs = [test_dirs] if isinstance(test_dirs, str) else test_dirs
  test = sources.ImageSource(formats.load_pts_folders(test_dirs)[0], size, schemes.IBUG68)
  mean = np.mean([train.example(i)["landmarks"] for i in range(len(train))], axis=0)
  truth = np.stack([test.example(i)["landmarks"] for i in range(len(test))])
  return metrics.per_face_nme(np.broadcast_to(mean, truth.shape), truth, normalizer)


def clip_jitter(net, frames, tracks, tracked, normalizer="inter_ocular", gamma=0.8):
  """{source: mean over clips of metrics.jitter(prediction, ground truth)} on clips [C, K, S, S, 3].

  Detection sources predict every frame independently; `tracked` [C, K, N, 2] is track_clips' output.
  """
  clips, num_frames = frames.shape[:2]
  flat = predict_images(net, frames.reshape((-1,) + frames.shape[2:]), gamma)
  jitter = {source: float(np.mean([metrics.jitter(track, truth, normalizer) for track, truth in zip(
      flat[source].reshape(clips, num_frames, -1, 2), tracks)])) for source in ("p_M", "p_C", "fused")}
  jitter["tracking"] = float(np.mean([metrics.jitter(t, g, normalizer) for t, g in zip(tracked, tracks)]))
  return jitter


def per_category(errors, video_ids, threshold=0.08):
  """300VW categories A/B/C: {category: metrics.summarize(errors of its videos)} (only categories present)."""
  from tsal_tf.data import protocols
  categories = np.array([protocols.category_of(v) or "train" for v in video_ids])
  return {str(c): metrics.summarize(np.asarray(errors)[categories == c], threshold) for c in sorted(set(categories))}


@dataclasses.dataclass
class EvaluationData:
  """What `evaluate_run` measures on: clips (frames uint8 [M, K, S, S, 3], tracks [M, K, N, 2] crop pixels),
  single faces (images [F, S, S, 3], truth [F, N, 2]: the 300W crops, or frame 0 of each video clip), each
  face's folder name (`subsets`, 300W folders) or each clip's video (`video_ids`, 300VW), None otherwise."""
  frames: np.ndarray
  tracks: np.ndarray
  images: np.ndarray
  truth: np.ndarray
  subsets: list = None
  video_ids: list = None


def evaluation_data(data_dir, size, clip_length, num_points, eval_data="images", limit=0,
                    crop_margin=augment.CROP_MARGIN):
  """EvaluationData of 300W-style folders (`data_dir`: one or a list; eval_data "images": every face and its
  still clip of `clip_length` frames) or a 300VW root ("300vw": every clip of annotated frames), at most `limit`
  faces or clips (0: all), cropped at `crop_margin` (the network's NetworkConfig.crop_margin). Refuses faces of
  another landmark count than `num_points`."""
  from tsal_tf.data import schemes, sources
  centre_crop = augment.AugmentConfig(crop_margin=crop_margin)
  subsets = video_ids = None
  if eval_data == "images":
    samples, subsets = formats.load_pts_folders([data_dir] if isinstance(data_dir, str) else data_dir)
    samples, subsets = (samples[:limit], subsets[:limit]) if limit else (samples, subsets)
    scheme = sources.scheme_of(samples)
    if scheme.num_points != num_points:
      raise ValueError(f"{data_dir}: {scheme.num_points}-point faces, the model predicts {num_points}")
    image_source = sources.ImageSource(samples, size, scheme, centre_crop)
    clip_source = sources.StillClipSource(samples, size, clip_length, scheme, centre_crop)
  else:
    videos = formats.load_300vw(data_dir)
    clip_source = sources.VideoClipSource(videos, size, clip_length, schemes.IBUG68, centre_crop, label_stride=1)
    image_source = None
    video_ids = [clip_source.starts[i][0] for i in range(len(clip_source))]
    if limit:
      video_ids = video_ids[:limit]
  count = len(video_ids) if video_ids is not None else len(image_source)
  if count == 0:
    raise ValueError(f"{data_dir}: no evaluation clips of {clip_length} annotated frames (try --eval_clip_length=2)")
  clips = [clip_source.example(i) for i in range(count)]
  frames = np.stack([c["frames"] for c in clips])
  tracks = np.stack([c["landmarks"] for c in clips])
  if image_source is not None:
    faces = [image_source.example(i) for i in range(len(image_source))]
    images, truth = np.stack([f["image"] for f in faces]), np.stack([f["landmarks"] for f in faces])
  else:
    images, truth = frames[:, 0], tracks[:, 0]
  return EvaluationData(frames, tracks, images, truth, subsets, video_ids)


def data_name(data_dirs):
  """The evaluated data's name: its folders' base names joined by '+' (`a/300w_helen_test,b/300w_lfpw_test/` ->
  `300w_helen_test+300w_lfpw_test`)."""
  return "+".join(formats.folder_name(d) for d in data_dirs)


def report_prefix(run_dir, data_dirs, normalizer="inter_pupil", flip_test=False, checkpoint=None, limit=0):
  """`<run_dir>/eval_<data folder names>`, suffixed with the normaliser (other than inter-pupil), `_flip_test`,
  the checkpoint's name (when one is named) and `_first<limit>` (a limited evaluation), so that evaluations of
  one run on other data or under these choices sit side by side instead of replacing each other."""
  name = data_name(data_dirs)
  if normalizer != "inter_pupil":
    name += f"_{normalizer}"
  if flip_test:
    name += "_flip_test"
  if checkpoint:
    name += "_" + os.path.splitext(os.path.basename(checkpoint))[0]
  if limit:
    name += f"_first{limit}"
  return os.path.join(run_dir, "eval_" + name)


def evaluate_run(run_dir, data_dir, normalizer="inter_pupil", threshold=0.08, clip_length=0, limit=0,
                 eval_data="images", checkpoint=None, flip_test=False):
  """Metrics dict {role: {source: summary}} (plus per-video tables for 300VW) and per-face errors.

  `data_dir` is one folder or a list of 300W-style folders (evaluated together; with several, each folder's
  p_M / p_C / fused summary is under results[role]["per_subset"][folder name]). flip_test: see predict_images.
  """
  teacher, student, run_flags = runs.load_networks(run_dir, checkpoint)
  size = teacher.config.input_size
  k = max(2, clip_length or int(run_flags.get("clip_length", 3)))  # tracking needs 2+ frames
  data = evaluation_data(data_dir, size, k, teacher.config.num_points, eval_data, limit, teacher.config.crop_margin)
  results, curves = {}, {}
  gamma = float(run_flags.get("gamma", 0.8))
  for role, net in runs.evaluated_roles(run_flags, teacher, student).items():
    errors = {}
    predictions = predict_images(net, data.images, gamma, flip_test=flip_test,
                                 mirror_shift=run_mirror_shift(run_flags, size))
    for source in ("p_M", "p_C", "fused"):
      errors[source] = metrics.per_face_nme(predictions[source], data.truth, normalizer)
    tracked = track_clips(net, data.frames, data.tracks[:, 0])
    _, errors["tracking"] = evaluate_tracking(net, data.frames, data.tracks, normalizer, tracked)
    results[role] = {source: metrics.summarize(e, threshold) for source, e in errors.items()}
    if data.subsets is not None and len(set(data.subsets)) > 1:
      per_subset = face_metrics(predictions, data.truth, data.subsets, (normalizer,), threshold)
      results[role]["per_subset"] = {name: report[normalizer] for name, report in per_subset.items()
                                     if name != "all"}
    for source, value in clip_jitter(net, data.frames, data.tracks, tracked, normalizer, gamma).items():
      results[role][source]["jitter"] = value
    if data.video_ids is not None:
      results[role]["per_video"] = metrics.per_video(errors["fused"], data.video_ids, threshold)
      results[role]["per_category"] = per_category(errors["fused"], data.video_ids, threshold)
    curves[f"{role} fused"] = errors["fused"]
    curves[f"{role} tracking"] = errors["tracking"]
  folders = [data_dir] if isinstance(data_dir, str) else list(data_dir)
  return {"normalizer": normalizer, "threshold": threshold, "gamma": gamma,
          "zero_motion_tracking": zero_motion_tracking(data.tracks, normalizer, threshold)[0],
          "faces": int(len(next(iter(curves.values())))),
          "data_dir": [os.path.abspath(f) for f in folders], "results": results}, curves
