"""benchmarks/learning_curve.py end to end on the tiny smoke config: rows, report, skip and resume."""

import csv
import os
import subprocess
import sys

import pytest

from runners import ROOT
sys.path.insert(0, ROOT)
from benchmarks import learning_curve  # noqa: E402


def _run(tmp_path, faces):
  command = [sys.executable, "benchmarks/learning_curve.py", "--minutes=0.02", "--models=supervised",
             f"--eval_dirs={faces}",
             "--base_flags=configs/smoke.flags", f"--study_dir={tmp_path}/study", f"--report_dir={tmp_path}/report",
             "--calibration_steps=2", "--no_dlib"]
  result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
  assert result.returncode == 0, result.stdout + result.stderr
  return result.stdout


def test_omega_periods_scale_with_the_row(tmp_path):
  flagfile = tmp_path / "base.flags"
  flagfile.write_text("# comment\n--epochs=10\n--climb_end=3\n--retain_end=8\n--nosic\n")
  args = learning_curve.parse_args([f"--base_flags={flagfile}"])
  assert learning_curve.row_flags("tsal", args, 4)[1:] == ["--climb_end=1.2", "--retain_end=3.2"]
  assert learning_curve.row_flags("supervised", args, 4)[1:] == learning_curve.SINGLE_MODEL_FLAGS
  args = learning_curve.parse_args([f"--base_flags={flagfile}", "--extra_flags=--retain_end=9,--mu=0.5"])
  assert learning_curve.row_flags("tsal", args, 4)[1:] == ["--retain_end=9", "--mu=0.5", "--climb_end=1.2",
                                                           "--retain_end=3.6"]
  args = learning_curve.parse_args([f"--base_flags={flagfile}", "--extra_flags=--swa_start=1"])
  assert learning_curve.row_flags("supervised", args, 4)[-1] == "--swa_start=1"  # overrides SINGLE_MODEL_FLAGS


def test_tsal_flags_reach_the_tsal_rows_only(tmp_path):
  """--tsal_flags follow --extra_flags in a TSAL row (and set its omega periods); a supervised row has none."""
  flagfile = tmp_path / "base.flags"
  flagfile.write_text("--epochs=10\n--climb_end=3\n--retain_end=8\n")
  args = learning_curve.parse_args([f"--base_flags={flagfile}", "--extra_flags=--mu=0.5",
                                    "--tsal_flags=--motion_pretrain_steps=600,--climb_end=5"])
  assert learning_curve.row_flags("tsal", args, 4)[1:] == ["--mu=0.5", "--motion_pretrain_steps=600", "--climb_end=5",
                                                           "--climb_end=2", "--retain_end=3.2"]
  assert learning_curve.row_flags("supervised", args, 4)[1:] == learning_curve.SINGLE_MODEL_FLAGS + ["--mu=0.5"]


def test_omega_fallbacks_are_train_defaults():
  script = ("import json; from absl import flags; from tsal_tf import flag_defs; "
            f"print(json.dumps({{n: flags.FLAGS[n].default for n in {sorted(learning_curve.TRAIN_DEFAULTS)}}}))")
  # A process of its own: train's flags would clash with the export flags other tests define in this one.
  result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
  assert __import__("json").loads(result.stdout) == learning_curve.TRAIN_DEFAULTS


def test_nested_flagfiles_are_followed(tmp_path):
  (tmp_path / "base.flags").write_text("--epochs=10\n--climb_end=3\n--retain_end=8\n")
  (tmp_path / "top.flags").write_text(f"--flagfile={tmp_path / 'base.flags'}\n--mu=0.5\n")
  args = learning_curve.parse_args([f"--base_flags={tmp_path / 'top.flags'}"])
  assert learning_curve.omega_flags(args, 4) == ["--climb_end=1.2", "--retain_end=3.2"]


def _expanded(argv):
  """{flag name: value} of a flag list with its flagfiles followed, the last setting of a flag winning."""
  from absl import flags
  values = {}
  for arg in flags.FlagValues().read_flags_from_files(argv, force_gnu=False):
    name, _, value = arg[2:].partition("=")
    if name.startswith("no") and not value:
      name, value = name[2:], "false"
    values[name] = value or "true"
  return values


def test_the_supervised_config_is_the_30_minute_row(monkeypatch):
  """configs/300w_cpu_supervised.flags trains what the benchmark's 30-minute supervised row trains at the reference
  rate: 30 x 60 x 4.963 = 8,933 steps, planned as 4 validated epochs of ceil(8,933 / 4) = 2,234."""
  monkeypatch.chdir(ROOT)  # the configs name their nested flagfile and data relative to the repository
  args = learning_curve.parse_args(["--rates=supervised=4.963"])
  row = _expanded(learning_curve.row_flags("supervised", args, 4) + ["--epochs=4", "--steps_per_epoch=2234"])
  config = _expanded(["--flagfile=configs/300w_cpu_supervised.flags"])
  assert config.pop("run_dir") == "runs/300w_supervised"
  row.pop("run_dir")
  assert config == row
  assert config["average_student"] == "true" and config["async_learning"] == "false"


def test_given_rates_replace_the_calibration(tmp_path, monkeypatch):
  def no_training(*unused):
    raise AssertionError("a calibration run started")
  monkeypatch.setattr(learning_curve, "train", no_training)
  args = learning_curve.parse_args(["--rates=supervised=4.963", f"--study_dir={tmp_path}"])
  assert learning_curve.steps_per_second("supervised", args) == 4.963
  assert not os.listdir(tmp_path)  # no calibration.json
  for bad in ("supervised", "supervized=4.9", "tsal=0", "tsal=fast"):
    with pytest.raises(SystemExit, match="--rates"):
      learning_curve.parse_rates(bad)


def test_models_restricted_to_a_budget():
  models = learning_curve.budget_models("supervised, tsal@30,tsal_steps@30", [30.0, 60.0])
  assert models == {30.0: {"supervised", "tsal", "tsal_steps"}, 60.0: {"supervised"}}
  assert learning_curve.budget_models("tsal_steps@10,tsal_steps@60", [10.0, 30.0, 60.0]) == {
      10.0: {"tsal_steps"}, 30.0: set(), 60.0: {"tsal_steps"}}
  for bad, reason in (("supervised,tsal@45", "does not hold"), ("tsal@soon", "kind@<minutes>"),
                      ("teacher", "unknown kind")):
    with pytest.raises(SystemExit, match=reason):
      learning_curve.budget_models(bad, [30.0, 60.0])


def _report(nme_ip):
  """A face_metrics report of one role whose every source has inter-pupil NME `nme_ip`."""
  summary = lambda nme: {"nme": nme, "auc": 0.5, "fr": 0.0}
  sources = lambda nme: {source: summary(nme) for source in ("p_M", "p_C", "fused")}
  return {"all": {"inter_pupil": sources(nme_ip), "inter_ocular": sources(nme_ip / 1.4)}}


def test_averaged_supervised_row_reports_the_average_as_supervised(tmp_path):
  """A supervised row with --average_student has a teacher (the moving average) and a raw student: the CSV
  and the plot carry the teacher's figures as `supervised`, the .md both, named, the average first (result.json
  stores the roles sorted by name)."""
  result = {"name": "supervised_60min", "kind": "supervised", "steps": 100, "minutes": 60.0,
            "metrics": {"student": _report(0.0403), "teacher": _report(0.0385)}}
  rows = learning_curve.csv_rows([result], None)
  assert [(r["model"], r["nme_ip"]) for r in rows] == [("supervised", "3.85")]
  args = learning_curve.parse_args([f"--report_dir={tmp_path}"])
  learning_curve.write_report([result], None, args, "command")
  table = [line for line in (tmp_path / "learning_curve.md").read_text().splitlines()
           if line.startswith("| supervised_60min")]
  assert [line.split(" | ")[1:5:3] for line in table] == [["supervised", "3.85"],
                                                          ["supervised, raw student", "4.03"]]


@pytest.mark.slow
def test_rows_report_then_skip_and_resume(tmp_path, common_set_sample):
  first = _run(tmp_path, common_set_sample)
  assert "[calibration] supervised" in first and "[supervised_0.02min] training" in first
  with open(tmp_path / "report" / "learning_curve.csv", encoding="utf-8") as f:
    rows = list(csv.DictReader(f))
  assert list(rows[0]) == ["model", "minutes", "steps", "nme_ip", "nme_io", "auc_io", "fr_io"]
  row_dir = tmp_path / "study" / "supervised_0.02min"
  plan_steps = int(__import__("json").loads((row_dir / "plan.json").read_text())["steps"])
  assert rows[0]["model"] == "supervised" and int(rows[0]["steps"]) == plan_steps
  assert 0 < float(rows[0]["nme_ip"]) and (tmp_path / "report" / "learning_curve.png").stat().st_size > 0
  result = __import__("json").loads((row_dir / "result.json").read_text())
  assert result["machine"].endswith("native bfloat16")
  assert f"Machine of the rows: {result['machine']}." in (tmp_path / "report" / "learning_curve.md").read_text()
  # The supervised row's reported network is the weight average (SINGLE_MODEL_FLAGS), its raw student beside it.
  assert sorted(result["metrics"]) == ["student", "teacher"]
  flip_nme = result["metrics_flip"]["teacher"]["all"]["inter_pupil"]["fused"]["nme"]
  assert flip_nme != result["metrics"]["teacher"]["all"]["inter_pupil"]["fused"]["nme"]
  table_row = next(line for line in (tmp_path / "report" / "learning_curve.md").read_text().splitlines()
                   if line.startswith("| supervised_0.02min"))
  assert table_row.split("|")[13].strip() == f"{100 * flip_nme:.2f}"  # the flip-test column of the report

  second = _run(tmp_path, common_set_sample)  # finished rows are skipped, the calibration is reused
  assert "finished earlier: skipped" in second and "[calibration]" not in second

  os.remove(row_dir / "result.json")  # a row interrupted after its last checkpoint resumes, trains no more
  third = _run(tmp_path, common_set_sample)
  assert f"[supervised_0.02min] resuming: {plan_steps} steps" in third
  with open(tmp_path / "report" / "learning_curve.csv", encoding="utf-8") as f:
    assert list(csv.DictReader(f))[0]["steps"] == str(plan_steps)


def test_a_row_planned_with_other_flags_is_refused_not_reused(tmp_path):
  """A finished or interrupted row whose plan.json holds other flags (e.g. a study directory rerun with another
  --extra_flags) stops the benchmark before anything is trained or reported as that row."""
  import json
  args = learning_curve.parse_args([f"--study_dir={tmp_path}", "--extra_flags=--mu=0.5"])
  row_dir = tmp_path / "supervised_10min"
  row_dir.mkdir()
  plan = {"kind": "supervised", "epochs": 4, "steps_per_epoch": 2, "steps": 8,
          "flags": learning_curve.row_flags("supervised", learning_curve.parse_args([]), 4)}
  (row_dir / "plan.json").write_text(json.dumps(plan))
  (row_dir / "result.json").write_text(json.dumps({"name": "supervised_10min", "steps": 8}))
  with pytest.raises(SystemExit, match="planned with other flags"):
    learning_curve.run_row("supervised_10min", "supervised", 8, args)
  same = learning_curve.parse_args([f"--study_dir={tmp_path}"])
  assert learning_curve.run_row("supervised_10min", "supervised", 8, same)["steps"] == 8  # skipped: same flags


def test_init_from_paths_that_name_the_same_run_are_the_same_flags(tmp_path):
  (tmp_path / "burn_in").mkdir()
  (tmp_path / "study").mkdir()
  (tmp_path / "study" / "burn_in").symlink_to(tmp_path / "burn_in")
  planned = ["--flagfile=c.flags", f"--init_from={tmp_path}/study/burn_in", "--mu=0.5"]
  assert learning_curve.same_flags(planned, ["--flagfile=c.flags", f"--init_from={tmp_path}/burn_in", "--mu=0.5"])
  assert not learning_curve.same_flags(planned, ["--flagfile=c.flags", f"--init_from={tmp_path}/study", "--mu=0.5"])
  assert not learning_curve.same_flags(planned, ["--flagfile=c.flags", f"--init_from={tmp_path}/burn_in", "--mu=1"])
