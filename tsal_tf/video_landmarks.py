"""Landmarks through a video or an image folder, with a training run's network or an exported SavedModel.

The first frame's face box comes from the caller or from OpenCV's Haar frontal-face detector (shipped with
opencv-python-headless 4.x; no download); later boxes come from the detector (every `redetect_every` frames)
and otherwise from the previous frame's landmarks. A box that did not come from landmarks (the detector's, or
the caller's) only approximates the landmark box the network was trained to crop around, so the network first
predicts on it and then crops again around the box of that prediction (on 300W common with the Haar detector's
boxes: 5.88% -> 5.46% NME for a model at crop margin 1.35, 5.87% -> 5.45% at 1.1; benchmarks/box_jitter.py).
Landmarks can be smoothed over time (an exponential moving average q_t = a * p_t + (1 - a) * q_{t-1} with
a = 1 - smoothing). `run` writes an overlay video and per-frame landmarks (JSON or CSV by extension), both
atomically, and prints the jitter (metrics.jitter) of the raw and the smoothed tracks. `tsal_tf.infer` is its
command line.
"""

import json
import os

import cv2
import numpy as np

from tsal_tf.data import face_detector


class VideoError(IOError):
  """An input that cannot be read as a video or frame folder."""


def read_frames(path):
  """Yield RGB uint8 frames from a video file or a folder of images; (frames iterator, count, fps)."""
  if os.path.isdir(path):
    names = sorted(n for n in os.listdir(path) if n.lower().endswith((".jpg", ".jpeg", ".png", ".bmp")))
    if not names:
      raise VideoError(f"{path}: folder holds no .jpg/.png frames")
    from tsal_tf.data.formats import read_image
    return (read_image(os.path.join(path, n)) for n in names), len(names), 25.0
  if not os.path.isfile(path):
    raise VideoError(f"{path}: no such video file")
  capture = cv2.VideoCapture(path)
  ok, first = capture.read()
  if not capture.isOpened() or not ok:
    capture.release()
    raise VideoError(f"{path}: cannot decode video (corrupt, empty or unsupported codec)")
  count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
  fps = capture.get(cv2.CAP_PROP_FPS) or 25.0

  def frames():
    frame = first
    try:
      while frame is not None:
        yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        ok, frame = capture.read()
        frame = frame if ok else None
    finally:
      capture.release()

  return frames(), count, fps


def predict_in_boxes(net, frames, boxes, gamma, flip_test=False, mirror_shift=0.0):
  """The fused landmarks [M, N, 2] of `net` in the pixels of each of `frames`, each cropped around its box
  (x1, y1, x2, y2) at the network's crop margin, as in training, and the prediction mapped back through the crop
  (flip_test, mirror_shift: as in evaluation.predict_images)."""
  from tsal_tf.data import augment, schemes
  from tsal_tf.evaluation import predict_images
  transforms = [augment.centre_transform(box, net.config.input_size, net.config.crop_margin) for box in boxes]
  crops = np.stack([augment.warp_image(frame, transform) for frame, transform in zip(frames, transforms)])
  fused = predict_images(net, crops, gamma, flip_test=flip_test, mirror_shift=mirror_shift)["fused"]
  scheme = schemes.scheme_for(net.config.num_points)
  return np.stack([augment.crop_to_source(points, transform, scheme) for points, transform in zip(fused, transforms)])


class RunPredictor:
  """A network (a training run's teacher) on one frame: predict_in_boxes at its crop margin and fusion gamma, with
  the flip test if asked (twice the compute; mirror_shift as in evaluation.predict_images)."""

  def __init__(self, net, gamma=0.8, flip_test=False, mirror_shift=0.0):
    self.net, self.gamma, self.flip_test, self.mirror_shift = net, gamma, flip_test, mirror_shift

  @classmethod
  def from_run(cls, run_dir, flip_test=False):
    """The teacher of the run in `run_dir`, with the run's gamma and mirror shift."""
    from tsal_tf.evaluation import run_mirror_shift
    from tsal_tf.runs import load_networks
    teacher, _, run_flags = load_networks(run_dir)
    return cls(teacher, float(run_flags.get("gamma", 0.8)), flip_test,
               run_mirror_shift(run_flags, teacher.config.input_size))

  def __call__(self, frame, box):
    return predict_in_boxes(self.net, [frame], [box], self.gamma, self.flip_test, self.mirror_shift)[0]


class SavedModelPredictor:
  """An exported SavedModel's serving_default signature (stock TensorFlow only)."""

  def __init__(self, path):
    import tensorflow as tf
    self.serve = tf.saved_model.load(path).signatures["serving_default"]

  def __call__(self, frame, box):
    import tensorflow as tf
    out = self.serve(images=tf.constant(frame[None]), boxes=tf.constant([box], tf.float32))
    return out["landmarks"].numpy()[0]


def write_landmarks(path, track, fps):
  from tsal_tf.io_utils import atomic_write_text
  if path.lower().endswith(".csv"):
    header = "frame," + ",".join(f"x{i},y{i}" for i in range(track.shape[1]))
    rows = [f"{t}," + ",".join(f"{v:.3f}" for v in points.ravel()) for t, points in enumerate(track)]
    atomic_write_text(path, "\n".join([header] + rows) + "\n")
  else:
    atomic_write_text(path, json.dumps({
        "convention": "0-based pixel centres (x, y)", "fps": fps,
        "frames": [{"frame": t, "landmarks": np.round(p, 3).tolist()} for t, p in enumerate(track)]}) + "\n")


def run(video, predictor, box=None, smoothing=0.5, output=None, landmarks_path=None, max_frames=0,
        redetect_every=1):
  """Track landmarks through a video; returns (raw track [T, N, 2], smoothed track [T, N, 2]).

  The crop box of frame t: the detector's face on the frames it runs on (every `redetect_every`-th frame),
  otherwise the box of frame t-1's smoothed landmarks; frame 0 uses `box` when given. A detector's box or `box`
  is first replaced by the landmark box of the prediction on it (module docstring).
  """
  import contextlib
  import keras
  from tsal_tf import metrics
  from tsal_tf.data import schemes
  from tsal_tf.io_utils import atomic_path
  from tsal_tf.tools import drawing
  frames, count, fps = read_frames(video)
  count = min(count, max_frames) if max_frames else count
  progress = keras.utils.Progbar(count, unit_name="frame")
  raw, smoothed, writer = [], [], None
  with contextlib.ExitStack() as stack:
    temporary = stack.enter_context(atomic_path(output)) if output else None
    for t, frame in enumerate(frames):
      if max_frames and t >= max_frames:
        break
      external = None  # this frame's box when it comes from the user or the detector, not from landmarks
      if t == 0 and box is not None:
        external = box
      elif t == 0 or (redetect_every and t % redetect_every == 0):
        external = face_detector.detect_face(frame)
        if external is None and box is None:
          raise VideoError(f"{video}: no face found in the first frame; pass --box x1,y1,x2,y2")
      if external is not None:
        box = tuple(schemes.landmark_box(predictor(frame, external)))
      raw.append(predictor(frame, box))
      smoothed.append(raw[-1] if t == 0 else (1.0 - smoothing) * raw[-1] + smoothing * smoothed[-1])
      box = tuple(schemes.landmark_box(smoothed[-1]))
      if temporary:
        panel = drawing.draw_landmarks(frame, smoothed[-1])
        if writer is None:
          writer = cv2.VideoWriter(temporary, cv2.VideoWriter_fourcc(*"mp4v"), fps, panel.shape[1::-1])
          if not writer.isOpened():
            raise VideoError(f"{output}: cannot open a video writer (use .mp4 or .avi)")
        writer.write(cv2.cvtColor(panel, cv2.COLOR_RGB2BGR))
      progress.update(t + 1)
    if writer is not None:
      writer.release()
  if not raw:
    raise VideoError(f"{video}: no frames")
  raw, smoothed = np.stack(raw), np.stack(smoothed)
  if landmarks_path:
    write_landmarks(landmarks_path, smoothed, fps)
  print(f"{len(raw)} frames; jitter (mean frame-to-frame landmark motion / inter-ocular distance): "
        f"raw {metrics.jitter(raw):.4f}, smoothed {metrics.jitter(smoothed):.4f}")
  return raw, smoothed
