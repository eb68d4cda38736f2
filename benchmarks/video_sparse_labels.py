"""Per-frame accuracy on a densely labeled real clip of runs that saw one label in ten of its frames.

    .venv/bin/python benchmarks/video_sparse_labels.py --video=../shared/data/video_afewva/001 \
        --runs=no_video=runs/afewva/base,tsal=runs/afewva/tsal --report=results/video_sparse_labels

Every frame of the clip (300VW layout: imgs/ + annot/) is annotated; frames 0, s, 2s, ... (s = --label_stride)
are the ones a labeled-in-s run may have trained with. For the network each run gives a user (its teacher, or
its single model), on every frame:
  * detection: the fused prediction on the frame cropped from its own ground-truth landmark box (the 300W
    protocol of `evaluate`);
  * tracking: phi(V, p_l) chained through the frames since the last labeled frame, all cropped with that
    frame's box (what a user with labels every s frames gets in between).
Both are mapped back to the source image; NME is inter-ocular, jitter is `metrics.jitter` over the whole clip.
Writes <report>.md (a summary and the per-frame table), <report>.csv
(`run,frame,labeled,detection,tracking`, NME in percent) and <report>.png (NME against frame).
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402


def predict_clip(net, frames, gamma, label_stride):
  """(detection, tracking) [T, N, 2] in source pixels for the FaceSamples `frames` of one video."""
  from tsal_tf import evaluation
  from tsal_tf.data import augment, clips, schemes, sources
  size, scheme = net.config.input_size, schemes.IBUG68
  faces = sources.network_crops(frames, net.config, scheme)  # every frame cropped from its own landmark box
  examples = [faces.example(i) for i in range(len(faces))]
  fused = evaluation.predict_images(net, np.stack([e["image"] for e in examples]), gamma)["fused"]
  detection = np.stack([augment.apply_affine(p, augment.invert_affine(e["matrix"])) for p, e in zip(fused, examples)])
  tracking = []
  for start in range(0, len(frames), label_stride):
    segment = frames[start:start + label_stride]
    if len(segment) == 1:
      tracking.append(segment[0].landmarks[None])
      continue
    # The segment cropped as training crops a video clip (frame 0's box, no augmentation).
    clip = clips.video_clip([sources.read_frame(f) for f in segment], [f.landmarks for f in segment],
                            np.random.default_rng(0), size, scheme,
                            augment.AugmentConfig(crop_margin=net.config.crop_margin))
    tracked = evaluation.track_clips(net, clip.frames[None], clip.landmarks[None, 0])[0]
    tracking.append(augment.crop_to_source(tracked, clip.transform, scheme))
  return detection, np.concatenate(tracking)


def write_report(path, rows, summary, label_stride, video):
  """<path>.md / .csv / .png from per-frame rows (run, frame, labeled, detection %, tracking %)."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  from tsal_tf.io_utils import atomic_path, atomic_write_report, atomic_write_text
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  atomic_write_text(path + ".csv", "run,frame,labeled,detection,tracking\n" + "".join(
      f"{r[0]},{r[1]},{int(r[2])},{r[3]:.3f},{r[4]:.3f}\n" for r in rows))
  names = list(summary)
  lines = [f"# Per-frame NME on a real clip labeled one frame in {label_stride}", "",
           f"`{' '.join(sys.argv)}`", "",
           f"Clip: `{video}` ({len(rows) // len(names)} frames, every one annotated; frames 0, {label_stride}, ... "
           f"are the labeled ones). NME inter-ocular in percent; jitter: `metrics.jitter` over the clip.", "",
           "| run | run dir | detection, all frames | detection, unlabeled frames | tracking, unlabeled frames "
           "| detection jitter | tracking jitter |", "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
  for name, s in summary.items():
    lines.append(f"| {name} | `{s['run_dir']}` | {s['detection_all']:.2f}% | {s['detection_unlabeled']:.2f}% | "
                 f"{s['tracking_unlabeled']:.2f}% | {s['detection_jitter']:.4f} | {s['tracking_jitter']:.4f} |")
  lines += ["", "Per frame (detection / tracking NME, %):", "",
            "| frame | labeled | " + " | ".join(names) + " |",
            "| ---: | :---: | " + " | ".join("---:" for _ in names) + " |"]
  by_frame = {}
  for run, frame, labeled, detection, tracking in rows:
    by_frame.setdefault((frame, labeled), {})[run] = f"{detection:.2f} / {tracking:.2f}"
  for (frame, labeled), cells in sorted(by_frame.items()):
    lines.append(f"| {frame} | {'yes' if labeled else ''} | " + " | ".join(cells[n] for n in names) + " |")
  atomic_write_report(path + ".md", "\n".join(lines) + "\n")
  figure, axes = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
  for column, (axis, title) in enumerate(zip(axes, ("detection (each frame on its own)",
                                                    "tracking (from the last labeled frame)")), start=3):
    for name in names:
      run_rows = [r for r in rows if r[0] == name]
      axis.plot([r[1] for r in run_rows], [r[column] for r in run_rows], label=name)
    for frame in range(0, len(rows) // len(names), label_stride):
      axis.axvline(frame, color="grey", lw=0.5)
    axis.set_title(title, fontsize=9)
    axis.set_ylabel("NME inter-ocular (%)")
  axes[0].legend(fontsize=8)
  axes[1].set_xlabel("frame (grey: labeled)")
  figure.tight_layout()
  with atomic_path(path + ".png") as temporary:
    figure.savefig(temporary, format="png", dpi=110)
  plt.close(figure)


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--video", default="../shared/data/video_afewva/001", help="one 300VW-layout video folder")
  parser.add_argument("--runs", required=True, help="name=run_dir,name=run_dir,...")
  parser.add_argument("--label_stride", type=int, default=10)
  parser.add_argument("--report", default="results/video_sparse_labels")
  args = parser.parse_args()
  from tsal_tf import metrics
  from tsal_tf.data import formats
  from tsal_tf.runs import load_networks
  runs = dict(item.split("=", 1) for item in args.runs.split(","))
  video = os.path.normpath(args.video)
  try:
    frames = formats.load_300vw(os.path.dirname(video), [os.path.basename(video)])[os.path.basename(video)]
  except (FileNotFoundError, KeyError, ValueError) as error:
    raise SystemExit(f"error: {args.video}: {error}")
  truth = np.stack([f.landmarks for f in frames])
  labeled = np.arange(len(frames)) % args.label_stride == 0
  rows, summary = [], {}
  for name, run_dir in runs.items():
    try:
      teacher, _, run_flags = load_networks(run_dir)
    except (FileNotFoundError, ValueError) as error:
      raise SystemExit(f"error: {error}")
    detection, tracking = predict_clip(teacher, frames, float(run_flags.get("gamma", 0.8)), args.label_stride)
    nme = {source: 100 * metrics.per_face_nme(p, truth, "inter_ocular")
           for source, p in (("detection", detection), ("tracking", tracking))}
    summary[name] = {"run_dir": run_dir, "detection_all": float(nme["detection"].mean()),
                     "detection_unlabeled": float(nme["detection"][~labeled].mean()),
                     "tracking_unlabeled": float(nme["tracking"][~labeled].mean()),
                     "detection_jitter": metrics.jitter(detection, truth),
                     "tracking_jitter": metrics.jitter(tracking, truth)}
    rows += [(name, i, labeled[i], nme["detection"][i], nme["tracking"][i]) for i in range(len(frames))]
    print(f"{name}: detection {summary[name]['detection_all']:.2f}% (unlabeled frames "
          f"{summary[name]['detection_unlabeled']:.2f}%), tracking on unlabeled frames "
          f"{summary[name]['tracking_unlabeled']:.2f}%, jitter {summary[name]['detection_jitter']:.4f} / "
          f"{summary[name]['tracking_jitter']:.4f}", flush=True)
  write_report(args.report, rows, summary, args.label_stride, args.video)
  print(f"wrote {args.report}.md, .csv, .png")


if __name__ == "__main__":
  main()
