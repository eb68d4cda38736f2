import pytest

from tsal_tf import io_utils


def test_report_keeps_the_hand_written_notes_below_the_marker(tmp_path):
  path = str(tmp_path / "report.md")
  io_utils.atomic_write_report(path, "# Report\n\n| a | 1 |\n")
  assert open(path, encoding="utf-8").read() == "# Report\n\n| a | 1 |\n"  # new file: the text alone

  notes = f"{io_utils.NOTES_MARKER}\n\n## What the rows say\n\nrow a is 1.\n"
  with open(path, "a", encoding="utf-8") as f:
    f.write("\n" + notes)
  io_utils.atomic_write_report(path, "# Report\n\n| a | 2 |\n| b | 3 |\n\n\n")
  assert open(path, encoding="utf-8").read() == "# Report\n\n| a | 2 |\n| b | 3 |\n\n" + notes
  io_utils.atomic_write_report(path, "# Report\n\n| a | 4 |")  # again: the notes once, not twice
  assert open(path, encoding="utf-8").read() == "# Report\n\n| a | 4 |\n\n" + notes

  # A marker quoted inside a line is not the marker line; the generated text may not hold the marker.
  quoted = str(tmp_path / "quoted.md")
  with open(quoted, "w", encoding="utf-8") as f:
    f.write(f"# Old\n\nthe line `{io_utils.NOTES_MARKER}` keeps notes\n")
  io_utils.atomic_write_report(quoted, "# New\n")
  assert open(quoted, encoding="utf-8").read() == "# New\n"
  with pytest.raises(ValueError, match="marker"):
    io_utils.atomic_write_report(path, f"# Report\n{io_utils.NOTES_MARKER}\n")
  assert open(path, encoding="utf-8").read() == "# Report\n\n| a | 4 |\n\n" + notes  # left as it was

  plain = str(tmp_path / "plain.md")  # without the marker the whole file is the report's
  io_utils.atomic_write_report(plain, "old\n")
  io_utils.atomic_write_report(plain, "new\n")
  assert open(plain, encoding="utf-8").read() == "new\n"
  assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.md", "quoted.md", "report.md"]  # no temporary file left
