"""benchmarks/semi_supervised.py: the rows it plans, the gap it reports, and a tiny study end to end."""

import csv
import os
import subprocess
import sys

import pytest

from runners import ROOT
sys.path.insert(0, ROOT)
from benchmarks import learning_curve, semi_supervised  # noqa: E402


def test_rows_share_the_labeled_faces_and_the_mean_teacher_is_v1_lambda_0999():
  args = semi_supervised.parse_args(["--fractions=0.1,0.2", "--label_seed=3"])
  rows = {row.name: row for row in semi_supervised.plan_rows(args)}
  assert list(rows) == ["supervised_all", "supervised_f0.1", "mean_teacher_f0.1", "tsal_f0.1", "supervised_f0.2",
                        "mean_teacher_f0.2", "tsal_f0.2"]
  assert rows["supervised_all"] == semi_supervised.Row("supervised_all", "supervised_all", "supervised", None, ())
  assert (rows["supervised_f0.2"].model, rows["supervised_f0.2"].kind, rows["supervised_f0.2"].fraction) == (
      "supervised_f", "supervised", 0.2)
  assert rows["tsal_f0.1"] == semi_supervised.Row("tsal_f0.1", "tsal", "tsal", 0.1,
                                                  ("--label_fraction=0.1", "--label_seed=3"))
  assert rows["mean_teacher_f0.2"].flags == ("--label_fraction=0.2", "--label_seed=3", "--queue_length=1",
                                             "--ema_lambda=0.999")
  assert all(row.budget == 1.0 for row in rows.values())
  single, averaged, pair = ["student"], ["teacher", "student"], ["teacher", "student"]
  assert [semi_supervised.csv_model(model, role, roles) for model, role, roles in (
      ("supervised_f", "student", single), ("mean_teacher", "teacher", pair), ("mean_teacher", "student", pair),
      ("tsal", "student", pair), ("supervised_f", "teacher", averaged), ("supervised_all", "student", averaged))
  ] == ["supervised_f", "mean_teacher", None, "student", "supervised_f", None]
  row = semi_supervised.row_args(args, "--label_fraction=0.1")
  assert row.extra_flags == "--label_fraction=0.1" and row.study_dir == args.study_dir


def test_a_burn_in_row_starts_the_tsal_rows_and_counts_in_their_budget():
  args = semi_supervised.parse_args(["--fractions=0.1", "--burn_in=0.25", "--tsal_flags=--labeled_share=0.5",
                                     "--study_dir=runs/s"])
  rows = {row.name: row for row in semi_supervised.plan_rows(args)}
  assert list(rows) == ["supervised_all", "supervised_f0.1", "burn_in_f0.1", "mean_teacher_f0.1", "tsal_f0.1"]
  assert rows["burn_in_f0.1"] == semi_supervised.Row("burn_in_f0.1", "burn_in", "supervised", 0.1,
                                                     ("--label_fraction=0.1", "--label_seed=0"), 0.25)
  assert rows["tsal_f0.1"].flags == ("--label_fraction=0.1", "--label_seed=0", "--labeled_share=0.5",
                                     "--init_from=runs/s/burn_in_f0.1") and rows["tsal_f0.1"].budget == 0.75
  assert rows["mean_teacher_f0.1"].flags[-1] == "--init_from=runs/s/burn_in_f0.1"
  assert rows["supervised_f0.1"].budget == 1.0 and "--labeled_share=0.5" not in rows["supervised_f0.1"].flags
  for name, count in (("tsal_f0.1", 1), ("mean_teacher_f0.1", 1), ("burn_in_f0.1", 0)):
    row = rows[name]
    trained = learning_curve.row_flags(row.kind, semi_supervised.row_args(args, *row.flags), 4)
    assert trained.count("--labeled_share=0.5") == count, name  # the row's own, not again as learning_curve's
  assert semi_supervised.csv_model("burn_in", "teacher", ["teacher", "student"]) is None
  combined = semi_supervised.with_burn_in({"minutes": 7.5, "steps": 100, "name": "tsal_f0.1"},
                                          {"minutes": 2.5, "steps": 600})
  assert combined == {"minutes": 10.0, "steps": 700, "name": "tsal_f0.1"}
  with pytest.raises(SystemExit, match="burn_in"):
    semi_supervised.plan_rows(semi_supervised.parse_args(["--burn_in=1"]))


def test_table_lists_the_teacher_before_the_student():
  summary = {"inter_pupil": {"fused": {"nme": 0.05}}, "inter_ocular": {"fused": {"nme": 0.04}}}
  result = {"minutes": 20.0, "steps": 100, "metrics": {"student": {"all": summary}, "teacher": {"all": summary}}}
  rows = semi_supervised.table([("tsal", 0.1, result), ("mean_teacher", 0.1, result)])
  assert [row["model"] for row in rows] == ["teacher", "student", "mean_teacher"]
  assert rows[0] == {"label_fraction": "0.1", "model": "teacher", "minutes": "20.0", "steps": 100,
                     "nme_ip": "5.00", "nme_io": "4.00"}


def test_gap_recovered_is_the_share_of_the_lower_to_upper_gap():
  rows = [{"label_fraction": "all", "model": "supervised_all", "nme_ip": "4.00"},
          {"label_fraction": "0.1", "model": "supervised_f", "nme_ip": "7.00"},
          {"label_fraction": "0.1", "model": "teacher", "nme_ip": "6.00"}]
  assert semi_supervised.gap_recovered(rows, 0.1) == pytest.approx(1.0 / 3.0)
  assert semi_supervised.gap_recovered(rows, 0.2) is None
  assert semi_supervised.gap_line(rows).endswith("f = 0.1: 0.33.")  # no n/a, no legend
  rows += [{"label_fraction": "0.2", "model": "supervised_f", "nme_ip": "4.00"},
           {"label_fraction": "0.2", "model": "teacher", "nme_ip": "3.90"}]
  assert "f = 0.1: 0.33, f = 0.2: n/a (n/a:" in semi_supervised.gap_line(rows)


@pytest.mark.slow
def test_a_tiny_study_writes_its_report_and_skips_finished_rows(tmp_path, common_set_sample):
  # Without the mean-teacher row: it is a TSAL row with other flags (planned and named in the test above).
  command = [sys.executable, "benchmarks/semi_supervised.py", "--fractions=0.25", "--minutes=0.01",
             "--models=supervised_f,supervised_all,tsal", "--rates=supervised=10,tsal=10", "--burn_in=0.5",
             "--tsal_flags=--labeled_share=0.5",
             "--base_flags=configs/smoke.flags", f"--eval_dirs={common_set_sample}",
             f"--study_dir={tmp_path}/study", f"--report_dir={tmp_path}/report"]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  first = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900, env=env)
  assert first.returncode == 0, first.stdout + first.stderr
  with open(tmp_path / "report" / "semi_supervised.csv", encoding="utf-8") as f:
    rows = list(csv.DictReader(f))
  assert list(rows[0]) == ["label_fraction", "model", "minutes", "steps", "nme_ip", "nme_io"]
  assert [(r["label_fraction"], r["model"]) for r in rows] == [
      ("all", "supervised_all"), ("0.25", "supervised_f"), ("0.25", "teacher"), ("0.25", "student")]
  # 0.01 min x 10 steps/s, rounded up to 4 epochs of 2 steps; TSAL: a 4-step burn-in (half the budget, 3 steps
  # rounded up to 4 epochs of 1) and 4 steps of its own.
  assert all(r["steps"] == "8" for r in rows)
  tsal_log = (tmp_path / "study" / "tsal_f0.25" / "train.log").read_text()
  assert f"initialised from {tmp_path}/study/burn_in_f0.25" in tsal_log and "--labeled_share=0.5" in tsal_log
  labeled = (tmp_path / "study" / "supervised_f0.25" / "labeled.txt").read_text()
  assert labeled == (tmp_path / "study" / "tsal_f0.25" / "labeled.txt").read_text() and labeled.count("\n") == 8
  assert "f = 0.25: the TSAL and mean-teacher rows started from a supervised model" in (
      tmp_path / "report" / "semi_supervised.md").read_text()
  gap = semi_supervised.gap_recovered(rows, 0.25)  # None when both 8-step supervised rows print the same NME
  assert f"f = 0.25: {'n/a' if gap is None else f'{gap:.2f}'}" in (tmp_path / "report" / "semi_supervised.md").read_text()
  second = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900, env=env)
  assert second.returncode == 0 and second.stdout.count("finished earlier: skipped") == 4
