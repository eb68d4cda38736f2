"""dlib's classical 68-point predictor measured with this repository's readers and metrics (the bar to beat).

    .venv/bin/pip install dlib-bin==20.0.1 face-recognition-models==0.3.0   # not a project dependency
    .venv/bin/python benchmarks/dlib_reference.py   # 300W common: HELEN test + LFPW test

Each face gets dlib's HOG detection on the same 256x256 crop the TSAL models see (the detection that overlaps
the ground-truth landmark box most; the crop's centre square, where the 300W crops put the face, when HOG finds
none). Prints NME (inter-pupil and inter-ocular), AUC@0.08 and FR@0.08 from tsal_tf.metrics, and the
predictor's and the detector's median time per face on this machine.
"""

import argparse
import time

import numpy as np

from tsal_tf import metrics
from tsal_tf.data import formats, sources


def box_iou(a, b):
  """IoU of two (left, top, right, bottom) boxes."""
  w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
  h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
  union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
  return w * h / union if union > 0 else 0.0


def measure(folders):
  """dlib on the faces of `folders`: {"all" and each folder's name: {normalizer: metrics.summarize},
  "faces", "hog_detected", "predict_ms_median", "detect_ms_median"}."""
  try:
    import dlib
    import face_recognition_models
  except ImportError as error:
    raise SystemExit(f"{error}: pip install dlib-bin==20.0.1 face-recognition-models==0.3.0") from None
  detector = dlib.get_frontal_face_detector()
  predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())
  samples, subsets = formats.load_pts_folders(folders)
  predictions, truths, predict_ms, detect_ms, detected = [], [], [], [], 0
  for sample in samples:
    image = np.ascontiguousarray(sources.read_frame(sample))
    truth = sample.landmarks
    truth_box = (*truth.min(0), *truth.max(0))
    start = time.perf_counter()
    boxes = [(r.left(), r.top(), r.right(), r.bottom()) for r in detector(image, 0)]
    detect_ms.append(1e3 * (time.perf_counter() - start))
    if boxes:
      detected += 1
      box = max(boxes, key=lambda b: box_iou(b, truth_box))
    else:
      h, w = image.shape[:2]
      box = (w // 4, h // 4, 3 * w // 4, 3 * h // 4)
    start = time.perf_counter()
    shape = predictor(image, dlib.rectangle(*[int(v) for v in box]))
    predict_ms.append(1e3 * (time.perf_counter() - start))
    predictions.append([(p.x, p.y) for p in shape.parts()])
    truths.append(truth)
  predictions, truths = np.asarray(predictions, np.float32), np.asarray(truths, np.float32)
  summary = {"faces": len(truths), "hog_detected": detected,
             "predict_ms_median": float(np.median(predict_ms)), "detect_ms_median": float(np.median(detect_ms))}
  for group, mask in metrics.subset_masks(subsets).items():
    summary[group] = {normalizer: metrics.summarize(metrics.per_face_nme(predictions[mask], truths[mask], normalizer))
                      for normalizer in ("inter_pupil", "inter_ocular")}
  return summary


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--data_dir", default="../shared/data/300w_helen_test,../shared/data/300w_lfpw_test",
                      help="300W-style folders, comma-separated (reported together and one by one).")
  parser.add_argument("--output", default="", help="Write the summary as JSON here too.")
  args = parser.parse_args()
  folders = args.data_dir.split(",")
  summary = measure(folders)
  print(f"dlib 68-point predictor on {summary['faces']} faces of {args.data_dir} (HOG box on "
        f"{summary['hog_detected']}, centre box on {summary['faces'] - summary['hog_detected']})")
  for group in [g for g in summary if isinstance(summary[g], dict)]:
    for normalizer in ("inter_pupil", "inter_ocular"):
      s = summary[group][normalizer]
      print(f"  {group:18s} NME ({normalizer}) {100 * s['nme']:.2f}%  AUC@0.08 {s['auc']:.4f}  "
            f"FR@0.08 {100 * s['fr']:.2f}%")
  print(f"  predictor {summary['predict_ms_median']:.2f} ms per face, HOG detector {summary['detect_ms_median']:.2f}"
        " ms per face (medians, this machine)")
  if args.output:
    from tsal_tf.io_utils import atomic_write_json
    atomic_write_json(args.output, summary)
  return summary


if __name__ == "__main__":
  main()
