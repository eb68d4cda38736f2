"""Read-out choices of a trained run on 300W common: each heatmap decoder, p_C, and the fusion weight gamma.

    .venv/bin/python benchmarks/decoders.py --run_dir=runs/learning_curve/supervised_30min

Prints NME (inter-pupil) of p_M under every decoder of `decoders.HEATMAP_DECODERS`, of p_C, of the fused
p = gamma p_M + (1 - gamma) p_C for gamma in 0, 0.1, ..., 1 (with the run's own decoder), and of p_M with the
flip test (`evaluation.predict_images(flip_test=True)`), on the faces of --data_dir; the fusion is worth
keeping only where some gamma < 1 beats p_M alone.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--run_dir", required=True)
  parser.add_argument("--data_dir", default="../shared/data/300w_helen_test,../shared/data/300w_lfpw_test")
  parser.add_argument("--role", default="teacher", choices=["teacher", "student"])
  args = parser.parse_args()
  from keras import ops
  from tsal_tf import metrics
  from tsal_tf.data import formats, sources
  from tsal_tf.model import decoders
  from tsal_tf.runs import load_networks
  try:
    teacher, student, run_flags = load_networks(args.run_dir)
  except (FileNotFoundError, ValueError) as error:
    raise SystemExit(f"error: {error}")
  net = teacher if args.role == "teacher" else student
  samples, _ = formats.load_pts_folders(args.data_dir.split(","))
  source = sources.network_crops(samples, net.config)
  faces = [source.example(i) for i in range(len(source))]
  images, truth = np.stack([f["image"] for f in faces]), np.stack([f["landmarks"] for f in faces])
  stride = net.config.heatmap_stride
  predictions = {f"p_M {name}": [] for name in decoders.HEATMAP_DECODERS}
  predictions["p_C"] = []
  for start in range(0, len(images), 32):
    outputs = net.detect_numpy(images[start:start + 32].astype(np.float32) / 255.0)
    for name in decoders.HEATMAP_DECODERS:
      predictions[f"p_M {name}"].append(ops.convert_to_numpy(decoders.decode_lhr(outputs["heatmaps"], name)[0]))
    predictions["p_C"].append(ops.convert_to_numpy(decoders.decode_clor(outputs["centre"], outputs["offsets"])[0]))
  predictions = {k: decoders.to_crop_coords(np.concatenate(v), stride) for k, v in predictions.items()}
  nme = lambda p: 100 * float(np.mean(metrics.per_face_nme(p, truth, "inter_pupil")))
  print(f"{args.run_dir} ({args.role}, decoder {net.config.heatmap_decoder}) on {len(truth)} faces, NME inter-pupil:")
  for name, points in predictions.items():
    print(f"  {name:18s} {nme(points):6.2f}%")
  p_m = predictions[f"p_M {net.config.heatmap_decoder}"]
  fused = {gamma: nme(gamma * p_m + (1 - gamma) * predictions["p_C"]) for gamma in np.round(np.arange(0, 1.01, 0.1), 1)}
  print("  fused, by gamma:  " + "  ".join(f"{g:.1f}: {v:.2f}%" for g, v in fused.items()))
  best = min(fused, key=fused.get)
  print(f"  best gamma {best:.1f} ({fused[best]:.2f}%; p_M alone {fused[1.0]:.2f}%)")
  from tsal_tf import evaluation
  flipped = evaluation.predict_images(net, images, 1.0, flip_test=True,
                                      mirror_shift=evaluation.run_mirror_shift(run_flags, images.shape[2]))["p_M"]
  print(f"  p_M with flip test (mean of the image and its mirror): {nme(flipped):.2f}%")
  # Flip augmentation averages a label offset e away in x: the model then sits -e off the labels. Mean signed
  # error in crop pixels; divided by S / crop_margin it is the --label_x_offset that removes it (in x).
  bias = (p_m - truth).reshape(-1, 2).mean(axis=0)
  print(f"  p_M mean signed error (x, y): {bias[0]:+.3f}, {bias[1]:+.3f} crop pixels "
        f"(x as a fraction of the face box: {bias[0] * net.config.crop_margin / images.shape[2]:+.4f})")
  if truth.shape[1] == 68:  # where the error sits: mean point error / inter-pupil distance, per iBUG region
    distance = metrics.normalizer_distance(truth, "inter_pupil")
    point_errors = np.linalg.norm(p_m - truth, axis=-1) / distance[:, None]
    regions = {"jaw": range(0, 17), "brows": range(17, 27), "nose": range(27, 36), "eyes": range(36, 48),
               "mouth": range(48, 68)}
    print("  p_M by region:    " + "  ".join(f"{name} {100 * point_errors[:, list(r)].mean():.2f}%"
                                              for name, r in regions.items()))


if __name__ == "__main__":
  main()
