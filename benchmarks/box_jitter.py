"""NME of runs' networks when the face box is off: how a model copes with a face detector's boxes.

    .venv/bin/python benchmarks/box_jitter.py --run_dir=runs/a --run_dir=runs/b --jitters=0,0.05,0.1

Evaluation (`evaluate`, the learning curve) crops every face around the tight box of its own annotation, which a
user's face detector only approximates. Here the box of each face is moved and resized before the crop: with
side L = max(w, h) of the tight box, its centre moves by (U[-j, j] L, U[-j, j] L) and its sides scale by
U[1 - j, 1 + j], one seeded draw per face and jitter j (the same draws for every run). Each run's network then
crops at its own margin (NetworkConfig.crop_margin), predicts, and its points are mapped back to the source image,
where the NME is measured against the annotation. A network that frames faces tightly leaves landmarks of a
shrunken or shifted box outside its crop; this measures what that costs. With --detector, three more columns
on the faces the OpenCV Haar face detector finds (their count is printed): the tight boxes of those faces; the
detector's boxes mapped onto landmark boxes (tsal_tf.data.face_detector); and what `infer` does with a
detector's box, a prediction on it, then a second one around the landmark box of the first.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tsal_tf import metrics, runs  # noqa: E402
from tsal_tf.data import augment, face_detector, formats, schemes, sources  # noqa: E402
from tsal_tf.video_landmarks import predict_in_boxes  # noqa: E402


def jittered_boxes(boxes, jitter, rng):
  """boxes [M, 4] (x1, y1, x2, y2) -> the same boxes moved and resized as the module docstring says."""
  boxes = np.asarray(boxes, np.float64)
  centre = 0.5 * (boxes[:, :2] + boxes[:, 2:])
  half = 0.5 * (boxes[:, 2:] - boxes[:, :2])
  side = 2.0 * half.max(axis=1, keepdims=True)
  centre = centre + rng.uniform(-jitter, jitter, centre.shape) * side
  half = half * rng.uniform(1.0 - jitter, 1.0 + jitter, (len(boxes), 1))
  return np.concatenate([centre - half, centre + half], axis=1)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--run_dir", action="append", required=True, help="a training run; repeat for several")
  parser.add_argument("--data_dir", default="../shared/data/300w_helen_test,../shared/data/300w_lfpw_test")
  parser.add_argument("--jitters", default="0,0.05,0.1", help="comma-separated box jitters j (fractions of L)")
  parser.add_argument("--normalizer", default="inter_pupil")
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--detector", action="store_true", help="also crop around the Haar face detector's boxes")
  args = parser.parse_args()
  samples, _ = formats.load_pts_folders(args.data_dir.split(","))
  frames = [sources.read_frame(s) for s in samples]
  truth = np.stack([s.landmarks for s in samples])
  tight = np.stack([augment.source_box(s.landmarks, s.box) for s in samples])
  jitters = [float(j) for j in args.jitters.split(",")]
  boxes = {j: jittered_boxes(tight, j, np.random.default_rng([args.seed, i])) for i, j in enumerate(jitters)}
  columns = [f"box jitter {j:g}" for j in jitters]
  if args.detector:
    detected = [face_detector.detect_face(frame) for frame in frames]
    found = np.array([box is not None for box in detected])
    boxes["tight"] = tight
    boxes["detector"] = np.array([box if box is not None else (0, 0, 1, 1) for box in detected], np.float64)
    columns += [f"tight boxes of the {found.sum()} faces the detector finds", "their detector boxes",
                "detector boxes, then the box of those predictions (infer)"]
  print(f"{len(samples)} faces of {args.data_dir}; NME {args.normalizer} of the fused output: " + ", ".join(columns))
  for run_dir in args.run_dir:
    try:
      teacher, student, run_flags = runs.load_networks(run_dir)
    except (FileNotFoundError, ValueError) as error:
      raise SystemExit(f"error: {error}")
    role, net = next(iter(runs.evaluated_roles(run_flags, teacher, student).items()))
    gamma = float(run_flags.get("gamma", 0.8))
    predictions = {key: predict_in_boxes(net, frames, value, gamma) for key, value in boxes.items()}
    if args.detector:
      predictions["refined"] = predict_in_boxes(net, frames, [schemes.landmark_box(p) for p in
                                                              predictions["detector"]], gamma)
    errors = {key: metrics.per_face_nme(value, truth, args.normalizer) for key, value in predictions.items()}
    nmes = [100 * errors[j].mean() for j in jitters]
    if args.detector:
      nmes += [100 * errors[key][found].mean() for key in ("tight", "detector", "refined")]
    print(f"{run_dir} ({role}, crop margin {net.config.crop_margin:g}): "
          + ", ".join(f"{nme:.2f}%" for nme in nmes), flush=True)


if __name__ == "__main__":
  main()
