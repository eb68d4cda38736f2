"""Turn your own videos into a training list: `python -m tsal_tf.prepare --videos DIR --out DIR`.

Input (--videos): video files (.mp4/.avi/.mov/.mkv) and/or frame folders, or a 300VW-layout root
(`NNN/vid.avi` or `NNN/imgs/` with `NNN/annot/NNNNNN.pts`). Labels (--labels, optional): `<video name>/NNNNNN.pts`
per labeled frame (1-based frame numbers as in 300VW); 300VW folders bring their own `annot/`.

Output (--out): frames extracted from video files as `frames/<video>/NNNNNN.jpg`, one SBR list
`<out>/train.lst` (`image annotation|None x1 y1 x2 y2`, readable by `tsal_tf.train --data=list`), a report
`prepare_report.json` and a contact sheet `contact_sheet.png` of sampled frames with their boxes.

Face boxes: a labeled frame's box is its landmark box. Other frames get a box from the offline Haar face
detector (mapped to a landmark-like box) and from linear interpolation between the nearest boxes before and
after; the box track is then smoothed over time (centred moving average of --smooth_window frames). Frames
with no box within --max_gap frames are reported and left out of the list, never given a guessed box.
With --label_stride N only every N-th labeled frame keeps its label (the others become unlabeled frames).
"""

import os

import cv2
import numpy as np
from absl import app
from absl import flags

from tsal_tf import cli  # first: quiets TensorFlow's C++ start-up log

FLAGS = flags.FLAGS
flags.DEFINE_string("videos", None, "Folder of videos / frame folders, or a 300VW-layout root.")
flags.DEFINE_string("labels", None, "Folder of <video name>/NNNNNN.pts labels (optional).")
flags.DEFINE_string("out", None, "Output folder.")
flags.DEFINE_integer("label_stride", 10, "Keep one label in this many labeled frames (paper: 10).")
flags.DEFINE_integer("detect_every", 1, "Run the face detector on every n-th unlabeled frame.")
flags.DEFINE_integer("smooth_window", 5, "Frames in the centred moving average of the box track.")
flags.DEFINE_integer("max_gap", 15, "Frames a box may be interpolated across; farther frames are skipped.")
flags.DEFINE_integer("max_frames", 0, "At most this many frames per video (0 = all).")

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")


def find_videos(root):
  """[(name, frames source, annotation folder or None)] for everything under `root`."""
  found = []
  for name in sorted(os.listdir(root)):
    path = os.path.join(root, name)
    stem = os.path.splitext(name)[0]
    if os.path.isfile(path) and name.lower().endswith(VIDEO_EXTENSIONS):
      found.append((stem, path, None))
    elif os.path.isdir(path):
      annot = os.path.join(path, "annot")
      annot = annot if os.path.isdir(annot) else None
      for source in (os.path.join(path, "imgs"), os.path.join(path, "frames"), os.path.join(path, "vid.avi")):
        if os.path.exists(source):
          found.append((name, source, annot))
          break
      else:
        if any(n.lower().endswith(IMAGE_EXTENSIONS) for n in os.listdir(path)):
          found.append((name, path, annot))
  return found


def frame_paths(name, source, out_dir, max_frames):
  """Frame image paths of a video: the folder's images, or frames extracted into out_dir/frames/<name>/."""
  from keras.utils import Progbar
  if os.path.isdir(source):
    names = sorted(n for n in os.listdir(source) if n.lower().endswith(IMAGE_EXTENSIONS))
    return [os.path.join(source, n) for n in names][:max_frames or None]
  capture = cv2.VideoCapture(source)
  count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
  if not capture.isOpened() or count <= 0:
    raise IOError(f"{source}: cannot decode video")
  count = min(count, max_frames) if max_frames else count
  folder = os.path.join(out_dir, "frames", name)
  os.makedirs(folder, exist_ok=True)
  paths, progress = [], Progbar(count, unit_name="frame")
  print(f"extracting {name}")
  while len(paths) < count:
    ok, frame = capture.read()
    if not ok:
      break
    path = os.path.join(folder, f"{len(paths) + 1:06d}.jpg")
    if not os.path.isfile(path):
      cv2.imwrite(path, frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
    paths.append(path)
    progress.update(len(paths))
  capture.release()
  return paths


def read_labels(name, paths, annot_dir, labels_root):
  """{0-based frame index: landmarks} from annot_dir or labels_root/<name>/ (NNNNNN.pts = frame NNNNNN)."""
  from tsal_tf.data import formats
  folder = annot_dir or (os.path.join(labels_root, name) if labels_root else None)
  if not folder or not os.path.isdir(folder):
    return {}
  labels = {}
  stems = [os.path.splitext(os.path.basename(p))[0] for p in paths]
  by_number = {int(s): i for i, s in enumerate(stems) if s.isdigit()}
  for file_name in sorted(os.listdir(folder)):
    if file_name.endswith(".pts"):
      number = formats.annotation_frame_index(file_name) + 1
      index = by_number.get(number, number - 1)  # frame folders named by number, else position
      if 0 <= index < len(paths):
        labels[index] = (os.path.join(folder, file_name), formats.read_pts(os.path.join(folder, file_name)))
  return labels


def interpolate_boxes(boxes, max_gap):
  """Fill None entries of a box list linearly between known boxes at most max_gap frames apart."""
  known = [i for i, b in enumerate(boxes) if b is not None]
  filled = list(boxes)
  for a, b in zip(known, known[1:]):
    if 1 < b - a <= max_gap + 1:
      for i in range(a + 1, b):
        w = (i - a) / (b - a)
        filled[i] = tuple((1 - w) * np.asarray(boxes[a]) + w * np.asarray(boxes[b]))
  return filled


def smooth_boxes(boxes, window):
  """Centred moving average over the frames that have a box (frames without one stay None)."""
  out = list(boxes)
  half = window // 2
  for i, box in enumerate(boxes):
    if box is None:
      continue
    neighbours = [np.asarray(b) for b in boxes[max(0, i - half):i + half + 1] if b is not None]
    out[i] = tuple(np.mean(neighbours, axis=0))
  return out


def prepare_video(name, source, annot_dir, args):
  """Boxes and labels of one video -> (list rows, report dict)."""
  from keras.utils import Progbar
  from tsal_tf.data import schemes
  from tsal_tf.data.face_detector import detect_face
  paths = frame_paths(name, source, args["out"], args["max_frames"])
  labels = read_labels(name, paths, annot_dir, args["labels"])
  kept = sorted(labels)[::args["label_stride"]]
  boxes = [None] * len(paths)
  for index in labels:
    boxes[index] = tuple(schemes.landmark_box(labels[index][1]))
  print(f"detecting faces in {name} ({len(paths)} frames, {len(labels)} labeled)")
  progress = Progbar(len(paths), unit_name="frame")
  detected = 0
  for i, path in enumerate(paths):
    if boxes[i] is None and i % args["detect_every"] == 0:
      frame = cv2.imread(path)
      box = detect_face(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)) if frame is not None else None
      boxes[i] = box
      detected += box is not None
    progress.update(i + 1)
  boxes = smooth_boxes(interpolate_boxes(boxes, args["max_gap"]), args["smooth_window"])
  for index in labels:  # labeled frames keep their exact landmark box
    boxes[index] = tuple(schemes.landmark_box(labels[index][1]))
  rows, skipped = [], []
  for i, (path, box) in enumerate(zip(paths, boxes)):
    if box is None:
      skipped.append(os.path.basename(path))
      continue
    annotation = os.path.abspath(labels[i][0]) if i in kept else "None"
    rows.append(f"{os.path.abspath(path)} {annotation} " + " ".join(f"{v:.2f}" for v in box))
  report = {"frames": len(paths), "labeled_in_source": len(labels), "labels_kept": len(kept),
            "detected": detected, "listed": len(rows), "skipped_no_face": skipped}
  return rows, boxes, paths, set(kept), report


def contact_sheet(samples, path, columns=6, size=160):
  """A grid PNG of (frame path, box, labeled) samples with the boxes drawn (green labeled, yellow not)."""
  from tsal_tf.io_utils import atomic_path
  from tsal_tf.tools import drawing
  panels = []
  for frame_path, box, labeled in samples:
    image = cv2.cvtColor(cv2.imread(frame_path), cv2.COLOR_BGR2RGB)
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    cv2.rectangle(image, (x1, y1), (x2, y2), (0, 220, 0) if labeled else (255, 210, 0), max(1, image.shape[1] // 200))
    scale = size / max(image.shape[:2])
    panel = np.zeros((size, size, 3), np.uint8)
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    panel[:small.shape[0], :small.shape[1]] = small
    panels.append(panel)
  with atomic_path(path) as temporary:
    cv2.imwrite(temporary, cv2.cvtColor(drawing.grid(panels, columns), cv2.COLOR_RGB2BGR))


def prepare(videos_root, out_dir, labels_root=None, label_stride=10, detect_every=1, smooth_window=5, max_gap=15,
            max_frames=0):
  """Prepare every video under videos_root; returns the report dict (also written to out_dir)."""
  from tsal_tf.io_utils import atomic_write_json, atomic_write_text
  if not os.path.isdir(videos_root):
    raise FileNotFoundError(f"{videos_root}: not a folder")
  videos = find_videos(videos_root)
  if not videos:
    raise FileNotFoundError(f"{videos_root}: no videos or frame folders found")
  os.makedirs(out_dir, exist_ok=True)
  args = {"out": out_dir, "labels": labels_root, "label_stride": max(1, label_stride),
          "detect_every": max(1, detect_every), "smooth_window": max(1, smooth_window), "max_gap": max_gap,
          "max_frames": max_frames}
  all_rows, report, sheet = [], {}, []
  for name, source, annot in videos:
    rows, boxes, paths, kept, report[name] = prepare_video(name, source, annot, args)
    all_rows += rows
    listed = [i for i, b in enumerate(boxes) if b is not None]
    sheet += [(paths[i], boxes[i], i in kept) for i in listed[::max(1, len(listed) // 6)][:6]]
  atomic_write_text(os.path.join(out_dir, "train.lst"), "\n".join(all_rows) + "\n")
  atomic_write_json(os.path.join(out_dir, "prepare_report.json"), report)
  if sheet:
    contact_sheet(sheet, os.path.join(out_dir, "contact_sheet.png"))
  return report


def main(argv):
  del argv
  if not FLAGS.videos or not FLAGS.out:
    raise app.UsageError("--videos and --out are required")
  report = prepare(FLAGS.videos, FLAGS.out, FLAGS.labels, FLAGS.label_stride, FLAGS.detect_every,
                   FLAGS.smooth_window, FLAGS.max_gap, FLAGS.max_frames)
  for name, entry in report.items():
    print(f"{name}: {entry['listed']}/{entry['frames']} frames listed, {entry['labels_kept']} labeled, "
          f"{len(entry['skipped_no_face'])} skipped (no face found)"
          + (f": {', '.join(entry['skipped_no_face'][:10])}" if entry['skipped_no_face'] else ""))
  print(f"wrote {os.path.join(FLAGS.out, 'train.lst')}, prepare_report.json and contact_sheet.png")


if __name__ == "__main__":
  cli.run(main)
