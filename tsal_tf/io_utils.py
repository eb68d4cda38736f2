"""Atomic file writes: write to a temporary file in the same folder, fsync, then rename over the target.

A crash at any moment leaves either the old file or the complete new one, never a half-written file.
"""

import contextlib
import json
import os
import re
import tempfile


@contextlib.contextmanager
def atomic_path(path):
  """Yield a temporary path beside `path`; on success it is renamed to `path`, on error removed."""
  folder = os.path.dirname(os.path.abspath(path))
  os.makedirs(folder, exist_ok=True)
  name = os.path.basename(path)
  stem = name.split(".", 1)[0]
  ext = name[len(stem):]  # the whole extension (".weights.h5"), so writers that check it accept the name
  fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=f".tmp{ext}", dir=folder)
  os.close(fd)
  try:
    yield tmp
    with open(tmp, "rb+") as f:
      os.fsync(f.fileno())
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual permissions
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def atomic_write_text(path, text):
  with atomic_path(path) as tmp:
    with open(tmp, "w", encoding="utf-8") as f:
      f.write(text)


NOTES_MARKER = "<!-- Written by hand below this line: kept when the report above is written again. -->"


def atomic_write_report(path, text):
  """Write a generated Markdown report atomically, keeping the hand-written notes of the file it replaces:
  everything from the first line that is NOTES_MARKER (the marker included) follows the new text unchanged."""
  if NOTES_MARKER in text:
    raise ValueError(f"{path}: the generated report holds the notes marker, which belongs to hand-written notes")
  notes = ""
  if os.path.isfile(path):
    with open(path, encoding="utf-8") as f:
      old = f.read()
    marker = re.search(rf"^{re.escape(NOTES_MARKER)}[ \t]*$", old, re.MULTILINE)
    if marker:
      notes = "\n" + old[marker.start():]
  atomic_write_text(path, text.rstrip("\n") + "\n" + notes)


def atomic_write_json(path, obj):
  atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")
