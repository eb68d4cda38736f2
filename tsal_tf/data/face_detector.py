"""Offline face detection: OpenCV's Haar frontal-face cascade (shipped by opencv-python-headless 4.x)."""

import functools
import os

import cv2


@functools.lru_cache(maxsize=1)
def _cascade():
  cascade = cv2.CascadeClassifier(os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml"))
  if cascade.empty():
    raise RuntimeError("OpenCV ships no Haar cascade here (opencv-python-headless 5 has none): pass a face box")
  return cascade


def detect_face(frame):
  """The largest Haar-cascade face as a landmark-like box (x1, y1, x2, y2), or None."""
  grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
  faces = _cascade().detectMultiScale(grey, scaleFactor=1.1, minNeighbors=5, minSize=(40, 40))
  if len(faces) == 0:
    return None
  x, y, w, h = max(faces, key=lambda f: f[2] * f[3])
  # Haar boxes cover brow-to-chin; the 68-point box starts lower (brows) and is a little narrower.
  return (x + 0.05 * w, y + 0.15 * h, x + 0.95 * w, y + 1.05 * h)
