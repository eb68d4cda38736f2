"""Readers for the real annotation formats; every reader returns 0-based pixel-centre coordinates.

Formats (see README "Data layouts"):
  * 300W / 300VW `.pts`: optional header ``version: 1`` / ``n_points: 68`` / ``{`` ... ``}``, then one
    ``x y`` pair per line, 1-based. Files without the header (as found in many mirrors) are accepted, as are
    CRLF line endings, tabs, commas and a trailing visibility column.
  * 300VW video folders: ``NNN/vid.avi`` or ``NNN/imgs/NNNNNN.jpg`` plus ``NNN/annot/NNNNNN.pts``; the
    annotation ``000006.pts`` belongs to the 6th frame of the video (0-based frame index 5).
  * COCO-style json (mmpose's 300W/AFLW/COFW/WFLW/300VW test files): ``keypoints`` as flat
    ``x, y, visibility`` triples, 0-based; ``bbox`` as ``x, y, w, h``.
  * SBR / SAN list files: ``image annotation x1 y1 x2 y2 [face_size]`` per line, where annotation ``None``
    marks an unlabeled frame (paths relative to the list file's folder unless absolute).

Every malformed file raises `AnnotationError` naming the file and the line.
"""

import dataclasses
import json
import math
import os
import re

import cv2
import numpy as np

from tsal_tf.data import schemes

_NUMBER_SPLIT = re.compile(r"[\s,;]+")


class AnnotationError(ValueError):
  """A malformed annotation, naming the file and (where known) the 1-based line."""

  def __init__(self, path, message, line=None):
    where = f"{path}:{line}" if line is not None else str(path)
    super().__init__(f"{where}: {message}")
    self.path = path
    self.line = line


class ImageReadError(IOError):
  """An image that is missing or cannot be decoded."""


@dataclasses.dataclass
class FaceSample:
  """One face in one image or video frame.

  Attributes:
    image_path: the image file (or the video file, with `frame_index`).
    landmarks: [N, 2] float32, 0-based pixel centres; None for an unlabeled frame.
    box: (x1, y1, x2, y2) face box in the same convention, or None (then the landmark box is used).
    face_size: the normaliser that the list file gives (AFLW), or None.
    video_id: the video this frame belongs to, or None for still images.
    frame_index: 0-based frame index in the video, or None.
  """
  image_path: str
  landmarks: np.ndarray = None
  box: tuple = None
  face_size: float = None
  video_id: str = None
  frame_index: int = None

  @property
  def labeled(self):
    return self.landmarks is not None


def _parse_floats(text, path, line_number):
  fields = [f for f in _NUMBER_SPLIT.split(text.strip()) if f]
  try:
    values = [float(f) for f in fields]
  except ValueError:
    raise AnnotationError(path, f"expected numbers, got {text.strip()!r}", line_number) from None
  bad = [v for v in values if not math.isfinite(v)]
  if bad:
    raise AnnotationError(path, f"non-finite coordinate in {text.strip()!r}", line_number)
  return values


def check_num_points(num_points, path):
  """Raise AnnotationError unless `num_points` belongs to a known landmark scheme."""
  known = sorted(s.num_points for s in schemes.SCHEMES.values())
  if num_points not in known:
    raise AnnotationError(path, f"{num_points} points; expected one of {known}")


def read_pts(path, one_based=True):
  """Read a `.pts` file -> [N, 2] float32 in 0-based pixel-centre coordinates.

  Args:
    path: the file.
    one_based: the file's coordinates are 1-based (300W, 300VW); 1 is subtracted.
  """
  try:
    with open(path, "r", encoding="utf-8-sig") as f:
      lines = f.read().splitlines()
  except OSError as e:
    raise AnnotationError(path, f"cannot read: {e.strerror or e}") from None
  declared = None
  in_braces = None
  closed = False
  points = []
  for number, raw in enumerate(lines, start=1):
    text = raw.split("#", 1)[0].strip()
    if not text:
      continue
    key = text.split(":", 1)[0].strip().lower()
    if ":" in text and key in ("version", "n_points"):
      if key == "n_points":
        try:
          declared = int(text.split(":", 1)[1])
        except ValueError:
          raise AnnotationError(path, f"bad n_points line {text!r}", number) from None
      continue
    if text == "{":
      in_braces = True
      continue
    if text == "}":
      if not in_braces:
        raise AnnotationError(path, "'}' without '{'", number)
      closed = True
      continue
    if closed:
      raise AnnotationError(path, f"data after closing '}}': {text!r}", number)
    values = _parse_floats(text, path, number)
    if len(values) not in (2, 3):
      raise AnnotationError(path, f"expected 'x y' (optionally a visibility), got {text!r}", number)
    points.append(values[:2])
  if in_braces and not closed:
    raise AnnotationError(path, "truncated: missing closing '}'", len(lines))
  if declared is not None and declared != len(points):
    raise AnnotationError(path, f"header declares {declared} points, file has {len(points)}", len(lines))
  check_num_points(len(points), path)
  landmarks = np.asarray(points, dtype=np.float32)
  return landmarks - 1.0 if one_based else landmarks


def pts_text(points):
  """300W `.pts` text of 0-based points [N, 2]: written 1-based under the version / n_points header, the inverse
  of `read_pts`."""
  lines = [f"{x + 1:.3f} {y + 1:.3f}" for x, y in np.asarray(points, np.float64)]
  return f"version: 1\nn_points: {len(lines)}\n{{\n" + "\n".join(lines) + "\n}\n"


def read_image(path):
  """Read an image as RGB uint8 [H, W, 3]; raises ImageReadError naming the file."""
  if not os.path.isfile(path):
    raise ImageReadError(f"{path}: image file not found")
  image = cv2.imread(path, cv2.IMREAD_COLOR)
  if image is None:
    raise ImageReadError(f"{path}: cannot decode image (corrupt or unsupported format)")
  return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")


class LoadReport:
  """What a tolerant loader skipped: `skipped` is a list of (path, reason)."""

  def __init__(self):
    self.skipped = []

  def __str__(self):
    head = f"skipped {len(self.skipped)} bad sample(s)"
    return head + "".join(f"\n  {p}: {r}" for p, r in self.skipped[:20])


def _load_or_skip(build, path, skip_bad, report):
  try:
    return build()
  except (AnnotationError, ImageReadError) as e:
    if not skip_bad:
      raise
    report.skipped.append((path, str(e)))
    return None


def folder_name(folder):
  """A folder's own name, trailing separators ignored: `../data/300w_helen_test/` -> `300w_helen_test`."""
  return os.path.basename(os.path.normpath(folder))


def load_pts_folders(folders):
  """The faces of several 300W folders, in order, and each face's folder name: (samples, names)."""
  samples, names = [], []
  for folder in folders:
    found = load_pts_folder(folder)
    samples += found
    names += [folder_name(folder)] * len(found)
  return samples, names


def load_pts_folder(folder, skip_bad=False, check_images=True, report=None):
  """All `image + .pts` pairs in a folder (300W layout) -> list of FaceSample, sorted by name.

  Args:
    folder: directory with `name.jpg|png` next to `name.pts`.
    skip_bad: skip malformed annotations / unreadable images and record them in `report`
      (otherwise the first one raises).
    check_images: verify each image decodes (cheap header check with cv2.haveImageReader).
    report: a LoadReport to fill; one is created if None.
  """
  report = report if report is not None else LoadReport()
  if not os.path.isdir(folder):
    raise FileNotFoundError(f"{folder}: not a directory")
  samples = []
  for name in sorted(os.listdir(folder)):
    stem, ext = os.path.splitext(name)
    if ext.lower() != ".pts":
      continue
    pts_path = os.path.join(folder, name)
    image_path = next((os.path.join(folder, stem + e) for e in _IMAGE_EXTENSIONS + tuple(
        x.upper() for x in _IMAGE_EXTENSIONS) if os.path.isfile(os.path.join(folder, stem + e))), None)

    def build(pts_path=pts_path, image_path=image_path):
      if image_path is None:
        raise ImageReadError(f"{pts_path}: no image next to this annotation")
      if check_images and not cv2.haveImageReader(image_path):
        raise ImageReadError(f"{image_path}: cannot decode image")
      return FaceSample(image_path, read_pts(pts_path))

    sample = _load_or_skip(build, pts_path, skip_bad, report)
    if sample is not None:
      samples.append(sample)
  return samples


def annotation_frame_index(pts_name):
  """300VW mapping: annotation `NNNNNN.pts` -> 0-based frame index int(NNNNNN) - 1."""
  stem = os.path.splitext(os.path.basename(pts_name))[0]
  if not stem.isdigit() or int(stem) < 1:
    raise AnnotationError(pts_name, "300VW annotation names are 1-based frame numbers like 000001.pts")
  return int(stem) - 1


def load_300vw_video(video_dir, skip_bad=False, report=None):
  """One 300VW video folder -> list of FaceSample ordered by frame.

  Frames come from `imgs/NNNNNN.jpg` when present (named by the same 1-based number as the annotation),
  otherwise from `vid.avi` (then `image_path` is the video and `frame_index` says which frame).
  """
  report = report if report is not None else LoadReport()
  video_id = folder_name(video_dir)
  annot_dir = os.path.join(video_dir, "annot")
  frames_dir = next((os.path.join(video_dir, d) for d in ("imgs", "frames")
                     if os.path.isdir(os.path.join(video_dir, d))), None)
  video_file = os.path.join(video_dir, "vid.avi")
  if not os.path.isdir(annot_dir):
    raise FileNotFoundError(f"{video_dir}: no annot/ folder (300VW layout: NNN/annot/NNNNNN.pts)")
  if frames_dir is None and not os.path.isfile(video_file):
    raise FileNotFoundError(f"{video_dir}: neither imgs/ frames nor vid.avi")
  samples = []
  for name in sorted(os.listdir(annot_dir)):
    if not name.endswith(".pts"):
      continue
    pts_path = os.path.join(annot_dir, name)

    def build(name=name, pts_path=pts_path):
      index = annotation_frame_index(pts_path)
      if frames_dir is not None:
        stem = os.path.splitext(name)[0]
        image_path = next((os.path.join(frames_dir, stem + e) for e in _IMAGE_EXTENSIONS
                           if os.path.isfile(os.path.join(frames_dir, stem + e))), None)
        if image_path is None:
          raise ImageReadError(f"{pts_path}: no frame {stem}.jpg in {frames_dir}")
      else:
        image_path = video_file
      return FaceSample(image_path, read_pts(pts_path), video_id=video_id, frame_index=index)

    sample = _load_or_skip(build, pts_path, skip_bad, report)
    if sample is not None:
      samples.append(sample)
  return samples


def load_300vw(root, video_ids=None, skip_bad=False, report=None):
  """All 300VW videos under `root` (folders named by numeric id) -> {video_id: [FaceSample]}."""
  if not os.path.isdir(root):
    raise FileNotFoundError(f"{root}: not a folder (300VW layout: ROOT/NNN/vid.avi or imgs/, ROOT/NNN/annot/)")
  ids = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)) and d.isdigit())
  if video_ids is not None:
    wanted = {f"{int(v):03d}" for v in video_ids}
    ids = [d for d in ids if d in wanted]
  return {d: load_300vw_video(os.path.join(root, d), skip_bad, report) for d in ids}


def load_coco_json(json_path, image_root=None, skip_bad=False, report=None, one_based=False):
  """COCO-style keypoint json (mmpose test files) -> list of FaceSample (0-based, box from `bbox`).

  Set `one_based` for indexes that copied `.pts` numbers verbatim: mmpose's `anno_300vw.json` holds exactly
  the 1-based numbers of the 300VW `.pts` files (checked against them), unlike its 300W/AFLW files.
  """
  shift = 1.0 if one_based else 0.0
  report = report if report is not None else LoadReport()
  image_root = image_root or os.path.dirname(json_path)
  try:
    with open(json_path, "r", encoding="utf-8") as f:
      data = json.load(f)
  except json.JSONDecodeError as e:
    raise AnnotationError(json_path, f"invalid json: {e.msg}", e.lineno) from None
  for key in ("images", "annotations"):
    if key not in data:
      raise AnnotationError(json_path, f"missing top-level key {key!r}")
  images = {im["id"]: im for im in data["images"]}
  samples = []
  for i, ann in enumerate(data["annotations"]):
    where = f"{json_path} annotations[{i}]"

    def build(ann=ann, where=where):
      if ann.get("image_id") not in images:
        raise AnnotationError(where, f"image_id {ann.get('image_id')!r} not in images")
      values = ann.get("keypoints")
      if not values or len(values) % 3:
        raise AnnotationError(where, "keypoints must be flat x, y, visibility triples")
      keypoints = np.asarray(values, np.float64).reshape(-1, 3)
      if not np.all(np.isfinite(keypoints)):
        raise AnnotationError(where, "non-finite keypoint coordinate")
      check_num_points(len(keypoints), where)
      box = None
      if ann.get("bbox"):
        x, y, w, h = ann["bbox"]
        box = (x, y, x + w, y + h)
      image_path = os.path.join(image_root, images[ann["image_id"]]["file_name"])
      face_size = math.sqrt(box[2] - box[0]) * math.sqrt(box[3] - box[1]) if box else None
      if box is not None:
        box = tuple(v - shift for v in box)
      return FaceSample(image_path, (keypoints[:, :2] - shift).astype(np.float32), box=box, face_size=face_size)

    sample = _load_or_skip(build, where, skip_bad, report)
    if sample is not None:
      samples.append(sample)
  return samples


def read_list_file(list_path, skip_bad=False, report=None):
  """SBR/SAN list file -> list of FaceSample; annotation `None` gives an unlabeled sample.

  Each line: ``image annotation x1 y1 x2 y2 [face_size]`` (box 0-based, pixel centres). Relative paths
  resolve against the list file's folder. The `.pts` annotations are read (1-based) and validated.
  """
  report = report if report is not None else LoadReport()
  base = os.path.dirname(os.path.abspath(list_path))
  with open(list_path, "r", encoding="utf-8-sig") as f:
    lines = f.read().splitlines()
  samples = []
  for number, raw in enumerate(lines, start=1):
    text = raw.split("#", 1)[0].strip()
    if not text:
      continue
    fields = text.split()

    def build(fields=fields, number=number, text=text):
      if len(fields) not in (6, 7):
        raise AnnotationError(list_path, f"expected 'image annotation x1 y1 x2 y2 [face_size]', "
                              f"got {len(fields)} fields", number)
      numbers = _parse_floats(" ".join(fields[2:]), list_path, number)
      x1, y1, x2, y2 = numbers[:4]
      if x2 <= x1 or y2 <= y1:
        raise AnnotationError(list_path, f"empty face box {numbers[:4]}", number)
      resolve = lambda p: p if os.path.isabs(p) else os.path.join(base, p)
      landmarks = None if fields[1] == "None" else read_pts(resolve(fields[1]))
      face_size = numbers[4] if len(numbers) == 5 else None
      return FaceSample(resolve(fields[0]), landmarks, box=(x1, y1, x2, y2), face_size=face_size)

    sample = _load_or_skip(build, f"{list_path}:{number}", skip_bad, report)
    if sample is not None:
      samples.append(sample)
  return samples


def write_list_file(list_path, samples, annotation_paths):
  """Write an SBR list (atomically). `annotation_paths[i]` is the `.pts` of sample i, or None."""
  from tsal_tf.io_utils import atomic_write_text
  lines = []
  for sample, pts in zip(samples, annotation_paths):
    box = sample.box if sample.box is not None else tuple(schemes.landmark_box(sample.landmarks))
    size = f" {sample.face_size:.3f}" if sample.face_size else ""
    lines.append(f"{sample.image_path} {pts or 'None'} " + " ".join(f"{v:.3f}" for v in box) + size)
  atomic_write_text(list_path, "\n".join(lines) + "\n")
