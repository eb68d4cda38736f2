"""Landmark accuracy metrics (NumPy): NME with an explicit normaliser, AUC@t, failure rate, CED curves.

All inputs are landmarks [..., N, 2] in one coordinate frame (any frame works: NME is scale-free).
"""

import textwrap

import numpy as np

from tsal_tf.data import schemes

NORMALIZERS = ("inter_pupil", "inter_ocular", "face_size", "box_diagonal")


def normalizer_distance(ground_truth, normalizer, box=None):
  """The per-face normalising distance d [...].

  * inter_pupil: ||mean(p_36..41) - mean(p_42..47)|| (iBUG 68, 0-based indices).
  * inter_ocular: ||p_36 - p_45|| (outer eye corners).
  * face_size: sqrt(w * h) of the face box (AFLW); `box` [..., 4] if given, else the landmark box.
  * box_diagonal: sqrt(w^2 + h^2) of the same box.
  """
  ground_truth = np.asarray(ground_truth, np.float64)
  if normalizer == "inter_pupil":
    right, left = schemes.pupils(ground_truth)
    return np.linalg.norm(right - left, axis=-1)
  if normalizer == "inter_ocular":
    a, b = schemes.IBUG68_OUTER_CORNERS
    return np.linalg.norm(ground_truth[..., a, :] - ground_truth[..., b, :], axis=-1)
  if normalizer in ("face_size", "box_diagonal"):
    box = schemes.landmark_box(ground_truth) if box is None else np.asarray(box, np.float64)
    w, h = box[..., 2] - box[..., 0], box[..., 3] - box[..., 1]
    return np.sqrt(w * h) if normalizer == "face_size" else np.sqrt(w * w + h * h)
  raise ValueError(f"unknown normalizer {normalizer!r}; choose from {NORMALIZERS}")


def per_face_nme(prediction, ground_truth, normalizer="inter_pupil", box=None):
  """NME of each face [...]: mean_n ||pred_n - gt_n|| / d, with d from `normalizer_distance`.

  Points whose ground truth is NaN (not annotated) are left out of the mean.
  """
  prediction = np.asarray(prediction, np.float64)
  ground_truth = np.asarray(ground_truth, np.float64)
  if prediction.shape != ground_truth.shape:
    raise ValueError(f"prediction shape {prediction.shape} != ground truth shape {ground_truth.shape}")
  errors = np.linalg.norm(prediction - ground_truth, axis=-1)
  return np.nanmean(errors, axis=-1) / normalizer_distance(ground_truth, normalizer, box)


def nme(prediction, ground_truth, normalizer="inter_pupil", box=None):
  """Mean over faces of `per_face_nme` (a fraction; multiply by 100 for %)."""
  return float(np.mean(per_face_nme(prediction, ground_truth, normalizer, box)))


def ced_curve(errors, threshold=0.08, steps=2000):
  """Cumulative error distribution: (thresholds [steps], fraction of faces with error <= threshold)."""
  errors = np.sort(np.asarray(errors, np.float64).ravel())
  thresholds = np.linspace(0.0, threshold, steps)
  return thresholds, np.searchsorted(errors, thresholds, side="right") / max(len(errors), 1)


def auc(errors, threshold=0.08, steps=2000):
  """AUC@t: trapezoid area under the CED curve on `steps` thresholds in [0, t], divided by t."""
  thresholds, fractions = ced_curve(errors, threshold, steps)
  return float(np.trapezoid(fractions, thresholds) / threshold)


def failure_rate(errors, threshold=0.08):
  """Fraction of faces whose NME is above t."""
  errors = np.asarray(errors, np.float64).ravel()
  return float(np.mean(errors > threshold))


def summarize(errors, threshold=0.08):
  """{'nme', 'auc', 'fr', 'count'} of per-face errors."""
  errors = np.asarray(errors, np.float64).ravel()
  return {"nme": float(np.mean(errors)), "auc": auc(errors, threshold),
          "fr": failure_rate(errors, threshold), "count": int(errors.size)}


def subset_masks(subsets):
  """{"all": every face, and with several subsets each one's name: boolean mask [M]} of per-face names [M]."""
  subsets = np.asarray(subsets)
  groups = {"all": np.ones(len(subsets), bool)}
  if len(set(subsets.tolist())) > 1:
    groups.update({str(name): subsets == name for name in dict.fromkeys(subsets.tolist())})
  return groups


def per_video(errors, video_ids, threshold=0.08):
  """{video_id: summarize(errors of that video)} for per-face `errors` and matching `video_ids`."""
  errors = np.asarray(errors, np.float64).ravel()
  video_ids = np.asarray(video_ids)
  return {str(v): summarize(errors[video_ids == v], threshold) for v in sorted(set(video_ids.tolist()))}


def jitter(track, ground_truth=None, normalizer="inter_ocular"):
  """Temporal jitter of a landmark track [T, N, 2] (T >= 2):

    J = mean_{t=1..T-1} mean_n ||e_t,n - e_{t-1},n|| / d_t,   e_t = p_t - g_t  (or p_t without ground truth),

  with d_t the normaliser of frame t (of the ground truth when given, else of the track itself). With ground
  truth it measures how the error changes from frame to frame (a steady bias has zero jitter); without, it is
  the raw landmark motion, which is jitter on a static clip.
  """
  track = np.asarray(track, np.float64)
  if track.ndim != 3 or len(track) < 2:
    raise ValueError(f"jitter needs a track [T >= 2, N, 2], got shape {track.shape}")
  reference = track if ground_truth is None else np.asarray(ground_truth, np.float64)
  error = track - (0.0 if ground_truth is None else reference)
  steps = np.linalg.norm(np.diff(error, axis=0), axis=-1).mean(axis=-1)
  return float(np.mean(steps / normalizer_distance(reference[1:], normalizer)))


def plot_ced(curves, path, threshold=0.08, title="Cumulative error distribution"):
  """Write a CED plot PNG (atomically) of {label: per-face errors}."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  from tsal_tf.io_utils import atomic_path
  figure, axis = plt.subplots(figsize=(5, 4), dpi=120)
  for label, errors in curves.items():
    thresholds, fractions = ced_curve(errors, threshold)
    axis.plot(thresholds, fractions, label=f"{label} (AUC {auc(errors, threshold):.3f})")
  axis.set_xlabel("NME"), axis.set_ylabel("fraction of faces")
  axis.set_title(textwrap.fill(title, 50), fontsize=10)  # a long data-set name wraps instead of leaving the figure
  axis.set_xlim(0, threshold), axis.set_ylim(0, 1), axis.grid(alpha=0.3), axis.legend(fontsize=7)
  figure.tight_layout()
  with atomic_path(path) as tmp:
    figure.savefig(tmp, format="png")
  plt.close(figure)
