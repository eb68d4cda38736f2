"""Learning curve on 300W common: NME after fixed CPU budgets, supervised vs TSAL, next to dlib.

    .venv/bin/python benchmarks/learning_curve.py --minutes=10,30,60 --models=supervised,tsal_steps

Rows (each a fresh `python -m tsal_tf.train` process in its own run directory under --study_dir):
  supervised_<M>min   the single model (clip_length 1, no SIC / MFDS, no trained teacher; evaluated as the
                      weight average of its second half, SINGLE_MODEL_FLAGS) for M CPU minutes;
  tsal_<M>min         TSAL (teacher + student) trained for M CPU minutes       (equal minutes);
  tsal_steps<M>min    TSAL trained for as many steps as supervised_<M>min      (equal steps).
`--models=supervised,tsal@30,tsal_steps@30` trains the TSAL rows for the 30-minute budget only.
A budget of M minutes becomes a step count from the throughput of a short calibration run of the same
configuration (`calibration.json`, measured once per model kind), so the learning rate's cosine schedule ends
exactly at the budget's last step; every row records the steps and minutes it actually trained, and the
machine. Minutes are machine-dependent (results/core.md, section 7): `--rates=supervised=4.963` takes a given
throughput instead of the calibration, to train another machine's step counts. TSAL rows rescale omega's
periods (--climb_end, --retain_end) from the config's --epochs to the row's; --tsal_flags go to the TSAL rows only
(e.g. --motion_pretrain_steps=600, which a single model refuses).

Each finished row holds `result.json` and is skipped on a re-run; an interrupted row resumes from its last
checkpoint (`train --resume`) with the same plan, so a long curve can span several sessions: Ctrl-C or SIGTERM
stops a row's training after its current step, saved; a killed row loses at most its last 500 steps. After the
rows: dlib's 68-point predictor on the same faces in the same run (benchmarks/dlib_reference.py; skipped with a
note when dlib is not installed), then results/learning_curve.md, .csv and .png.
"""

import argparse
import csv
import io
import json
import math
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up lines (the rows' logs keep theirs)

from tsal_tf import child_process  # noqa: E402

# The supervised single model: no clips, no teacher of its own, no SIC / MFDS; its evaluated network is the
# stochastic weight average of its second half (results/core.md, section 13: 3.98% against 4.03% for the raw
# weights at the 60-minute row's end). The raw single model: --extra_flags=--noaverage_student,--swa_start=1.
SINGLE_MODEL_FLAGS = ["--clip_length=1", "--noasync_learning", "--nosic", "--nomfds",
                      "--average_student", "--queue_length=1", "--ema_lambda=0.999", "--swa_start=0.5"]
VALIDATIONS_PER_ROW = 4  # validation passes during a row (each costs a few seconds of its budget)
CHECKPOINT_STEPS = 500  # at most this many steps of a killed row are trained again (a TSAL row's ~9 CPU minutes)
CSV_HEADER = ["model", "minutes", "steps", "nme_ip", "nme_io", "auc_io", "fr_io"]
# The CSV's models; the raw student of a supervised row with --average_student is in the .md only.
CSV_MODELS = ("supervised", "teacher", "student", "dlib")
TRAIN_DEFAULTS = {"epochs": 140, "climb_end": 60, "retain_end": 110}  # as in tsal_tf/flag_defs.py
ROW_KINDS = ("supervised", "tsal")  # the trained kinds; tsal_steps rows are tsal rows of another row's steps
MODEL_KINDS = ROW_KINDS + ("tsal_steps",)  # the kinds of --models


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--minutes", default="10,30,60", help="CPU-minute budgets, comma-separated.")
  parser.add_argument("--models", default="supervised,tsal_steps",
                      help="Row kinds, comma-separated: supervised, tsal (equal minutes), tsal_steps (equal steps); "
                           "kind@M trains that kind only for the budget of M minutes (e.g. "
                           "supervised,tsal@30,tsal_steps@30).")
  parser.add_argument("--base_flags", default="configs/300w_cpu.flags", help="Training flagfile of every row.")
  parser.add_argument("--extra_flags", default="", help="Flags added to every row, comma-separated.")
  parser.add_argument("--tsal_flags", default="",
                      help="Flags added to the TSAL rows only (after --extra_flags), comma-separated: e.g. "
                           "--motion_pretrain_steps=600, which a single model refuses.")
  parser.add_argument("--study_dir", default="runs/learning_curve", help="Folder of the rows' run directories.")
  parser.add_argument("--eval_dirs", default="../shared/data/300w_helen_test,../shared/data/300w_lfpw_test",
                      help="300W-style folders evaluated together (the 300W common set) and one by one.")
  parser.add_argument("--report_dir", default="results", help="Where learning_curve.md / .csv / .png go.")
  parser.add_argument("--calibration_steps", type=int, default=40, help="Steps of each calibration run.")
  parser.add_argument("--rates", default="",
                      help="kind=steps/s pairs, comma-separated, used instead of this machine's calibration: e.g. "
                           "supervised=4.963 gives the step counts of the reference CPU's rows (results/core.md) "
                           "on any machine.")
  parser.add_argument("--no_dlib", action="store_true", help="Do not measure dlib.")
  return parser.parse_args(argv)


def train(run_dir, flags, log_path):
  """One training process (stdout + stderr into log_path); raises with the log's tail if it fails.

  Ctrl-C or SIGTERM to this driver reaches the training once (child_process.run): it saves its step and this
  process exits with 128 + the signal's number; the same command then resumes the row.
  """
  command = [sys.executable, "-m", "tsal_tf.train", *flags, f"--run_dir={run_dir}"]
  os.makedirs(run_dir, exist_ok=True)
  with open(log_path, "a", encoding="utf-8") as log:
    log.write(f"\n$ {' '.join(command)}\n")
    log.flush()
    code = child_process.run(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
  if code:
    with open(log_path, encoding="utf-8") as log:
      tail = log.read()[-2000:]
    raise SystemExit(f"training {run_dir} failed (exit {code}); log {log_path}:\n{tail}")


def flag_list(text):
  """'--a=1,--b' -> ['--a=1', '--b']."""
  return [f for f in text.split(",") if f]


def schedule_flags(args):
  """{name: value} of the TRAIN_DEFAULTS flags in the TSAL rows' flags: the last `--name=value` of the base
  flagfile (nested flagfiles expanded, paths relative to the repository root), the extra and the TSAL flags, else
  train's default."""
  from absl import flags
  argv = ([f"--flagfile={os.path.join(ROOT, args.base_flags)}"] + flag_list(args.extra_flags)
          + flag_list(args.tsal_flags))
  values = dict(TRAIN_DEFAULTS)
  # A FlagValues of its own: expanding flagfiles needs no flag definitions, and defining train's flags here
  # would clash with those of other tools imported in the same process.
  for arg in flags.FlagValues().read_flags_from_files(argv, force_gnu=False):
    name, _, value = arg[2:].partition("=")
    if arg.startswith("--") and name in values:
      values[name] = value
  return values


def omega_flags(args, epochs):
  """--climb_end / --retain_end rescaled from the config's --epochs to a row's `epochs`, so that omega(t) (eq. 6-7)
  climbs, holds and decays over the same fractions of a row as of the configured training."""
  values = schedule_flags(args)
  scale = epochs / float(values["epochs"])
  return [f"--{name}={float(values[name]) * scale:g}" for name in ("climb_end", "retain_end")]


def row_flags(kind, args, epochs):
  """The flags of a row: the base config, SINGLE_MODEL_FLAGS (supervised), --extra_flags (which override both),
  then a TSAL row's --tsal_flags and its omega periods rescaled from the values of the flags before them."""
  extra = flag_list(args.extra_flags)
  if kind == "supervised":
    return [f"--flagfile={args.base_flags}"] + SINGLE_MODEL_FLAGS + extra
  return [f"--flagfile={args.base_flags}"] + extra + flag_list(args.tsal_flags) + omega_flags(args, epochs)


def same_flags(planned, current):
  """Whether a row's recorded flags and this run's are the same training: equal, but for --init_from paths that
  name the same run (a burn-in linked into another study folder)."""
  def resolved(flags):
    return [f"--init_from={os.path.realpath(f.split('=', 1)[1])}" if f.startswith("--init_from=") else f
            for f in flags]
  return resolved(planned) == resolved(current)


def parse_rates(text):
  """'supervised=4.963,tsal=2.0' -> {kind: steps per second}; a clear error for anything else."""
  rates = {}
  for pair in (p.strip() for p in text.split(",") if p.strip()):
    kind, _, value = pair.partition("=")
    try:
      rate = float(value)
    except ValueError:
      rate = 0.0
    if kind not in ROW_KINDS or rate <= 0:
      raise SystemExit(f"--rates: {pair!r} is not <kind>=<steps per second> with kind one of {', '.join(ROW_KINDS)}")
    rates[kind] = rate
  return rates


def steps_per_second(kind, args):
  """Throughput of a row kind, measured once by a short run and kept in <study_dir>/calibration.json.

  The calibration trains 2 x calibration_steps steps with a token validation; the rate is taken from the
  difference between the two epochs' clock readings, so graph tracing and start-up are left out. It runs
  without the --swa_start tail (--swa_start=1), at the cost of a full step: a TSAL row's average tail
  (--tail_teacher=average) leaves the teacher's step out and runs faster, so such a row trains the steps of a
  tail-less one and ends before its minutes (its result records the minutes it trained).
  """
  given = parse_rates(args.rates)
  if kind in given:
    return given[kind]
  path = os.path.join(args.study_dir, "calibration.json")
  table = json.load(open(path, encoding="utf-8")) if os.path.isfile(path) else {}
  if kind in table:
    return table[kind]
  run_dir = os.path.join(args.study_dir, f"calibration_{kind}")
  if os.path.isdir(run_dir):
    import shutil
    shutil.rmtree(run_dir)
  n = args.calibration_steps
  print(f"[calibration] {kind}: timing {2 * n} steps", flush=True)
  flags = row_flags(kind, args, 2) + ["--swa_start=1", "--epochs=2", f"--steps_per_epoch={n}", "--val_count=8",
                                      "--val_clip_count=2", f"--checkpoint_every={10 * n}", "--verbose=2"]
  train(run_dir, flags, os.path.join(args.study_dir, f"calibration_{kind}.log"))
  epochs = json.load(open(os.path.join(run_dir, "train_clock.json"), encoding="utf-8"))["epochs"]
  rate = n / (epochs[1]["seconds"] - epochs[0]["seconds"])
  table[kind] = rate
  from tsal_tf.io_utils import atomic_write_json
  atomic_write_json(path, table)
  print(f"[calibration] {kind}: {rate:.3f} steps/s", flush=True)
  return rate


def evaluate_row(run_dir, eval_dirs):
  """Teacher and student metrics on the evaluation faces, {role: face_metrics report}, without and with the
  flip test (each face's prediction averaged with its mirror image's, evaluation.predict_images)."""
  import numpy as np
  from tsal_tf import evaluation
  from tsal_tf.data import formats, sources
  from tsal_tf.runs import evaluated_roles, load_networks
  teacher, student, run_flags = load_networks(run_dir)
  samples, subsets = formats.load_pts_folders(eval_dirs)
  source = sources.network_crops(samples, teacher.config)
  faces = [source.example(i) for i in range(len(source))]
  images, truth = np.stack([f["image"] for f in faces]), np.stack([f["landmarks"] for f in faces])
  gamma = float(run_flags.get("gamma", 0.8))
  roles = evaluated_roles(run_flags, teacher, student)
  shift = evaluation.run_mirror_shift(run_flags, teacher.config.input_size)
  predictions = {role: evaluation.predict_images_plain_and_flip_test(net, images, gamma, mirror_shift=shift)
                 for role, net in roles.items()}
  return [{role: evaluation.face_metrics(both[view], truth, subsets) for role, both in predictions.items()}
          for view in (0, 1)]


def run_row(name, kind, steps, args):
  """Train (or resume) one row to `steps` steps and evaluate it; returns its result dict."""
  from tsal_tf import hardware
  from tsal_tf.io_utils import atomic_write_json
  run_dir = os.path.join(args.study_dir, name)
  result_path = os.path.join(run_dir, "result.json")
  plan_path = os.path.join(run_dir, "plan.json")
  if os.path.isfile(plan_path):
    plan = json.load(open(plan_path, encoding="utf-8"))
    if "flags" in plan and not same_flags(plan["flags"], row_flags(kind, args, plan["epochs"])):
      raise SystemExit(f"[{name}] {run_dir} was planned with other flags ({' '.join(plan['flags'])}): give another "
                       f"--study_dir, or remove that run to retrain it")
  if os.path.isfile(result_path):
    print(f"[{name}] finished earlier: skipped", flush=True)
    return json.load(open(result_path, encoding="utf-8"))
  if not os.path.isfile(plan_path):
    per_epoch = max(1, math.ceil(steps / VALIDATIONS_PER_ROW))
    plan = {"kind": kind, "epochs": VALIDATIONS_PER_ROW, "steps_per_epoch": per_epoch,
            "steps": VALIDATIONS_PER_ROW * per_epoch, "flags": row_flags(kind, args, VALIDATIONS_PER_ROW)}
    atomic_write_json(plan_path, plan)
  resume = os.path.isdir(os.path.join(run_dir, "checkpoints"))
  print(f"[{name}] {'resuming' if resume else 'training'}: {plan['steps']} steps "
        f"({plan['epochs']} x {plan['steps_per_epoch']})", flush=True)
  flags = plan.get("flags", row_flags(kind, args, plan["epochs"])) + [
      f"--epochs={plan['epochs']}", f"--steps_per_epoch={plan['steps_per_epoch']}",
      f"--checkpoint_every={min(plan['steps_per_epoch'], CHECKPOINT_STEPS)}", "--verbose=2"]
  train(run_dir, flags + (["--resume"] if resume else []), os.path.join(run_dir, "train.log"))
  clock = json.load(open(os.path.join(run_dir, "train_clock.json"), encoding="utf-8"))
  plain, flipped = evaluate_row(run_dir, args.eval_dirs.split(","))
  result = {"name": name, "kind": kind, "steps": clock["steps"], "minutes": clock["seconds"] / 60.0,
            "machine": hardware.describe(), "metrics": plain, "metrics_flip": flipped}
  atomic_write_json(result_path, result)
  return result


def dlib_row(args):
  """dlib's summary on the evaluation faces (all of them together), or None when dlib is not installed."""
  if args.no_dlib:
    return None
  try:
    import dlib  # noqa: F401
    import face_recognition_models  # noqa: F401
  except ImportError:
    print("[dlib] not installed (pip install dlib-bin==20.0.1 face-recognition-models==0.3.0): no dlib row",
          flush=True)
    return None
  from benchmarks import dlib_reference
  return dlib_reference.measure(args.eval_dirs.split(","))


def roles_in_order(result):
  """(role, report) of a row's metrics, the teacher before the student (result.json stores them sorted by name)."""
  return sorted(result["metrics"].items(), key=lambda item: item[0] != "teacher")


def model_name(result, role):
  """The model a row's role is reported as: a supervised row's evaluated network (its moving-average teacher
  with --average_student, else the student) is `supervised` and its raw student `supervised, raw student`;
  a TSAL row's roles are `teacher` and `student`."""
  if result["kind"] != "supervised":
    return role
  evaluated = "teacher" if "teacher" in result["metrics"] else "student"
  return "supervised" if role == evaluated else "supervised, raw student"


def csv_rows(results, dlib):
  rows = []
  for result in results:
    for role, report in roles_in_order(result):
      model = model_name(result, role)
      if model not in CSV_MODELS:
        continue
      ip, io = report["all"]["inter_pupil"]["fused"], report["all"]["inter_ocular"]["fused"]
      rows.append({"model": model, "minutes": f"{result['minutes']:.1f}", "steps": result["steps"],
                   "nme_ip": f"{100 * ip['nme']:.2f}", "nme_io": f"{100 * io['nme']:.2f}",
                   "auc_io": f"{io['auc']:.4f}", "fr_io": f"{100 * io['fr']:.2f}", "row": result["name"]})
  if dlib is not None:
    ip, io = dlib["all"]["inter_pupil"], dlib["all"]["inter_ocular"]
    rows.append({"model": "dlib", "minutes": "", "steps": "", "nme_ip": f"{100 * ip['nme']:.2f}",
                 "nme_io": f"{100 * io['nme']:.2f}", "auc_io": f"{io['auc']:.4f}", "fr_io": f"{100 * io['fr']:.2f}",
                 "row": "dlib"})
  return rows


def plot(rows, path):
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  from tsal_tf.io_utils import atomic_path
  figure, axis = plt.subplots(figsize=(6, 4), dpi=120)
  styles = {"supervised": "o-", "teacher": "s-", "student": "^--"}
  for model, style in styles.items():
    for group in ("", "steps"):
      points = sorted((float(r["minutes"]), float(r["nme_ip"])) for r in rows
                      if r["model"] == model and ("steps" in r["row"]) == bool(group))
      if points:
        label = model if not group else f"{model} (equal steps)"
        axis.plot(*zip(*points), style, label=label, alpha=1.0 if not group else 0.6)
  for r in rows:
    if r["model"] == "dlib":
      axis.axhline(float(r["nme_ip"]), color="k", linestyle=":", label=f"dlib {r['nme_ip']}%")
  axis.set_xlabel("training CPU minutes (2 cores)"), axis.set_ylabel("NME inter-pupil, 300W common (%)")
  values = [float(r["nme_ip"]) for r in rows]
  axis.set_xlim(left=0), axis.set_ylim(0, 1.15 * max(values)), axis.grid(alpha=0.3), axis.legend(fontsize=8)
  figure.tight_layout()
  with atomic_path(path) as tmp:
    figure.savefig(tmp, format="png")
  plt.close(figure)


def flipped(result, role, normalizer):
  """The fused NME (percent) of a row's flip-test evaluation, or '' for a row evaluated before it existed."""
  report = result.get("metrics_flip", {}).get(role)
  return f"{100 * report['all'][normalizer]['fused']['nme']:.2f}" if report else ""


def write_report(results, dlib, args, command):
  from tsal_tf.data.formats import folder_name
  from tsal_tf.io_utils import atomic_write_report, atomic_write_text
  rows = csv_rows(results, dlib)
  buffer = io.StringIO()
  writer = csv.DictWriter(buffer, CSV_HEADER, extrasaction="ignore", lineterminator="\n")
  writer.writeheader()
  writer.writerows(rows)
  atomic_write_text(os.path.join(args.report_dir, "learning_curve.csv"), buffer.getvalue())
  plot(rows, os.path.join(args.report_dir, "learning_curve.png"))
  subset_names = ([folder_name(d) for d in args.eval_dirs.split(",")] + ["-", "-"])[:2]
  lines = ["# Learning curve on 300W common (554 faces)", "",
           f"`{command}`", "",
           f"Training config `{args.base_flags}` (extra flags: `{args.extra_flags or 'none'}`"
           f"{f'; TSAL rows also `{args.tsal_flags}`' if args.tsal_flags else ''}); each row is a fresh "
           "training process (machine below); minutes = the row's wall time in training (steps, data and its "
           f"{VALIDATIONS_PER_ROW} validations); a budget's steps come from a calibration run on the machine "
           "(or `--rates`). NME of the fused output in percent; AUC and FR at 0.08, "
           "inter-ocular. The flip-test columns average each face's prediction with that of its mirror image "
           "(`evaluate --flip_test`): twice the inference, no change to the model.", "",
           f"| row | model | minutes | steps | NME IP all | NME IP {subset_names[0]} | NME IP {subset_names[1]} | NME IO "
           "| AUC IO | FR IO | p_M IP | p_C IP | NME IP all, flip test | NME IO, flip test |",
           "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
  for result in results:
    for role, report in roles_in_order(result):
      model = model_name(result, role)
      subsets = [k for k in report if k != "all"]
      by = lambda subset, normalizer="inter_pupil", source="fused": report[subset][normalizer][source]
      sub = [f"{100 * by(s)['nme']:.2f}" for s in subsets[:2]] + [""] * (2 - len(subsets[:2]))
      lines.append(f"| {result['name']} | {model} | {result['minutes']:.1f} | {result['steps']} | "
                   f"{100 * by('all')['nme']:.2f} | {sub[0]} | {sub[1]} | "
                   f"{100 * by('all', 'inter_ocular')['nme']:.2f} | {by('all', 'inter_ocular')['auc']:.4f} | "
                   f"{100 * by('all', 'inter_ocular')['fr']:.2f} | {100 * by('all', source='p_M')['nme']:.2f} | "
                   f"{100 * by('all', source='p_C')['nme']:.2f} | {flipped(result, role, 'inter_pupil')} | "
                   f"{flipped(result, role, 'inter_ocular')} |")
  if dlib is not None:
    subsets = [k for k, v in dlib.items() if k != "all" and isinstance(v, dict)]
    sub = [f"{100 * dlib[s]['inter_pupil']['nme']:.2f}" for s in subsets[:2]] + [""] * (2 - len(subsets[:2]))
    io_all = dlib["all"]["inter_ocular"]
    lines.append(f"| dlib | dlib | | | {100 * dlib['all']['inter_pupil']['nme']:.2f} | {sub[0]} | {sub[1]} | "
                 f"{100 * io_all['nme']:.2f} | {io_all['auc']:.4f} | {100 * io_all['fr']:.2f} | | | | |")
    lines += ["", f"dlib: {dlib['predict_ms_median']:.2f} ms per face for the predictor (median, this run)."]
  machines = sorted({result.get("machine", "not recorded") for result in results})
  lines += ["", f"Machine{'s' if len(machines) > 1 else ''} of the rows: {'; '.join(machines)}."]
  lines += ["", "![learning curve](learning_curve.png)", ""]
  atomic_write_report(os.path.join(args.report_dir, "learning_curve.md"), "\n".join(lines))


def budget_models(models, budgets):
  """--models for each budget: 'supervised,tsal@30' with budgets [30, 60] -> {30: {supervised, tsal},
  60: {supervised}}; a clear error for an unknown kind or a budget that --minutes does not hold."""
  per_budget = {minutes: set() for minutes in budgets}
  for entry in (m.strip() for m in models.split(",") if m.strip()):
    kind, _, only = entry.partition("@")
    if kind not in MODEL_KINDS:
      raise SystemExit(f"--models: unknown kind {kind!r} in {entry!r} (choose {', '.join(MODEL_KINDS)})")
    try:
      chosen = [float(only)] if only else budgets
    except ValueError:
      raise SystemExit(f"--models: {entry!r} is not kind or kind@<minutes>") from None
    if any(minutes not in per_budget for minutes in chosen):
      raise SystemExit(f"--models: {entry!r} names a budget that --minutes ({', '.join(f'{m:g}' for m in budgets)}) "
                       "does not hold")
    for minutes in chosen:
      per_budget[minutes].add(kind)
  return per_budget


def main(argv=None):
  args = parse_args(argv)
  command = "python benchmarks/learning_curve.py " + " ".join(argv if argv is not None else sys.argv[1:])
  os.chdir(ROOT)
  budgets = [float(m) for m in args.minutes.split(",") if m]
  models = budget_models(args.models, budgets)
  results = []
  start = time.time()
  for minutes in budgets:
    label = f"{minutes:g}min"
    kinds = models[minutes]
    supervised = None
    if "supervised" in kinds or "tsal_steps" in kinds:
      steps = round(minutes * 60 * steps_per_second("supervised", args))
      supervised = run_row(f"supervised_{label}", "supervised", steps, args)
      results.append(supervised)
    if "tsal" in kinds:
      steps = round(minutes * 60 * steps_per_second("tsal", args))
      results.append(run_row(f"tsal_{label}", "tsal", steps, args))
    if "tsal_steps" in kinds:
      results.append(run_row(f"tsal_steps{label}", "tsal", supervised["steps"], args))
    write_report(results, None, args, command)  # a partial report after every budget
  dlib = dlib_row(args)
  write_report(results, dlib, args, command)
  for row in csv_rows(results, dlib):
    print(f"{row['row']:22s} {row['model']:10s} {row['minutes']:>6s} min {str(row['steps']):>6s} steps  "
          f"NME IP {row['nme_ip']}%  IO {row['nme_io']}%  AUC@0.08 {row['auc_io']}  FR@0.08 {row['fr_io']}%")
  print(f"wrote {args.report_dir}/learning_curve.md, .csv, .png ({(time.time() - start) / 60:.1f} min)")


if __name__ == "__main__":
  main()
