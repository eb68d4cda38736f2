"""Semi-supervision on partially labeled 300W stills: does TSAL learn from the faces whose labels it lost?

    .venv/bin/python benchmarks/semi_supervised.py --fractions=0.05,0.1,0.2 --minutes=30

For each label fraction f (`train --label_fraction=f`: the same seeded faces in every row) and the same CPU
budget per row, on the 554 faces of 300W common:
  supervised_f<f>     the single model on the labeled faces only (the lower bound);
  supervised_all      the single model on every label (the upper bound; one row for all fractions);
  mean_teacher_f<f>   TSAL with v = 1, lambda = 0.999 (eq. 8's mean-teacher special case);
  tsal_f<f>           TSAL with the config's v and lambda: teacher and student.
Unlabeled faces still become clips; their tracking starts from the teacher's detection (README, "Partially
labeled training"). With --burn_in=b, the TSAL and mean-teacher rows of a fraction start from a supervised model
of the labeled faces trained for b of the budget (row burn_in_f<f>, shared by both; `train --init_from`) and
train as TSAL for the rest: their minutes and steps add the burn-in's, so every row still costs the same budget
(the burn-in recipe of Unbiased Teacher, Liu et al. 2021). --tsal_flags go to the TSAL and mean-teacher rows
only (e.g. --labeled_share=0.5, a fine-tuning learning rate). The gap recovered is
(NME_supervised_f - NME_teacher_f) / (NME_supervised_f - NME_supervised_all). Rows run through
benchmarks/learning_curve.py's machinery: minutes become steps by a calibration per row kind (or --rates),
every row keeps its plan, an interrupted row resumes and a finished one is skipped, so the study can span
sessions. Writes <report_dir>/semi_supervised.md, .csv
(`label_fraction,model,minutes,steps,nme_ip,nme_io`) and .png.
"""

import argparse
import csv
import dataclasses
import io
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks import learning_curve  # noqa: E402

CSV_HEADER = ["label_fraction", "model", "minutes", "steps", "nme_ip", "nme_io"]
MEAN_TEACHER_FLAGS = ("--queue_length=1", "--ema_lambda=0.999")


def parse_args(argv=None):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--fractions", default="0.05,0.1,0.2", help="Label fractions, comma-separated.")
  parser.add_argument("--minutes", type=float, default=30.0, help="CPU minutes of every row.")
  parser.add_argument("--models", default="supervised_f,supervised_all,mean_teacher,tsal",
                      help="Row kinds, comma-separated (supervised_f, supervised_all, mean_teacher, tsal).")
  parser.add_argument("--base_flags", default="configs/300w_cpu.flags", help="Training flagfile of every row.")
  parser.add_argument("--extra_flags", default="", help="Flags added to every row, comma-separated.")
  parser.add_argument("--tsal_flags", default="", help="Flags added to the TSAL and mean-teacher rows, comma-separated.")
  parser.add_argument("--burn_in", type=float, default=0.0,
                      help="Fraction of the TSAL and mean-teacher rows' minutes spent on a supervised model of the "
                           "labeled faces they start from (0 = TSAL from scratch).")
  parser.add_argument("--label_seed", type=int, default=0, help="--label_seed of every row.")
  parser.add_argument("--study_dir", default="runs/semi_supervised")
  parser.add_argument("--eval_dirs", default="../shared/data/300w_helen_test,../shared/data/300w_lfpw_test")
  parser.add_argument("--report_dir", default="results")
  parser.add_argument("--calibration_steps", type=int, default=40)
  parser.add_argument("--rates", default="", help="kind=steps/s (supervised, tsal) instead of the calibration.")
  return parser.parse_args(argv)


def row_args(args, *flags):
  """learning_curve's arguments for one row: the study's, with `flags` (the row's own, its --tsal_flags included)
  added to every training flag and no --tsal_flags of learning_curve's own, which would add them twice."""
  extra = learning_curve.flag_list(args.extra_flags) + list(flags)
  return argparse.Namespace(**dict(vars(args), extra_flags=",".join(extra), tsal_flags=""))


@dataclasses.dataclass(frozen=True)
class Row:
  """One planned training: its run name, its model (one of --models, or "burn_in"), learning_curve's row kind,
  its label fraction (None: every label), its flags and its share of the --minutes budget."""
  name: str
  model: str
  kind: str
  fraction: float | None
  flags: tuple
  budget: float = 1.0


def plan_rows(args):
  """[Row] in training order (a burn-in before the TSAL rows that start from it)."""
  models = [m for m in args.models.split(",") if m]
  unknown = set(models) - {"supervised_f", "supervised_all", "mean_teacher", "tsal"}
  if unknown:
    raise SystemExit(f"--models: unknown kind(s) {sorted(unknown)}")
  if not 0.0 <= args.burn_in < 1.0:
    raise SystemExit(f"--burn_in={args.burn_in}: not in [0, 1)")
  tsal_flags = tuple(learning_curve.flag_list(args.tsal_flags))
  rows = [Row("supervised_all", "supervised_all", "supervised", None, ())] if "supervised_all" in models else []
  for fraction in (float(f) for f in args.fractions.split(",") if f):
    labels = (f"--label_fraction={fraction:g}", f"--label_seed={args.label_seed}")
    if "supervised_f" in models:
      rows.append(Row(f"supervised_f{fraction:g}", "supervised_f", "supervised", fraction, labels))
    tsal_models = [m for m in ("mean_teacher", "tsal") if m in models]
    start, budget = (), 1.0
    if args.burn_in and tsal_models:
      burn_in = Row(f"burn_in_f{fraction:g}", "burn_in", "supervised", fraction, labels, args.burn_in)
      rows.append(burn_in)
      start, budget = (f"--init_from={os.path.join(args.study_dir, burn_in.name)}",), 1.0 - args.burn_in
    for model in tsal_models:
      flags = labels + (MEAN_TEACHER_FLAGS if model == "mean_teacher" else ()) + tsal_flags + start
      rows.append(Row(f"{model}_f{fraction:g}", model, "tsal", fraction, flags, budget))
  return rows


def with_burn_in(result, burn_in):
  """A TSAL row's result with the minutes and steps of the burn-in it started from added (None: as it is)."""
  if burn_in is None:
    return result
  return dict(result, minutes=result["minutes"] + burn_in["minutes"], steps=result["steps"] + burn_in["steps"])


def table(results):
  """CSV rows (dicts) of the finished rows [(plan_rows' model, label fraction, result)]: one per network
  reported, the teacher before the student."""
  rows = []
  for planned_model, fraction, result in results:
    for role, report in learning_curve.roles_in_order(result):
      model = csv_model(planned_model, role, result["metrics"])
      if model is None:
        continue
      summary = report["all"]
      rows.append({"label_fraction": "all" if fraction is None else f"{fraction:g}", "model": model,
                   "minutes": f"{result['minutes']:.1f}", "steps": result["steps"],
                   "nme_ip": f"{100 * summary['inter_pupil']['fused']['nme']:.2f}",
                   "nme_io": f"{100 * summary['inter_ocular']['fused']['nme']:.2f}"})
  return rows


def evaluated_role(roles):
  """The role of a row's evaluated network among its evaluated `roles`: the teacher where there is one (TSAL, or
  the moving average of --average_student), else the student."""
  return "teacher" if "teacher" in roles else "student"


def csv_model(planned_model, role, roles):
  """The CSV model of a row's network `role` among its evaluated `roles` (None: not reported; the mean teacher's
  student is TSAL's twin, and a supervised row reports its evaluated network: the moving-average teacher with
  --average_student, else the student)."""
  if planned_model == "burn_in":
    return None  # the start of the TSAL rows, whose minutes and steps include it (write_report names it)
  if planned_model == "mean_teacher":
    return "mean_teacher" if role == "teacher" else None
  if planned_model == "tsal":
    return role
  return planned_model if role == evaluated_role(roles) else None


def gap_recovered(rows, fraction):
  """(NME_supervised_f - NME_teacher_f) / (NME_supervised_f - NME_supervised_all) at `fraction`, or None."""
  nme = {(r["label_fraction"], r["model"]): float(r["nme_ip"]) for r in rows}
  key = f"{fraction:g}"
  lower, upper, teacher = nme.get((key, "supervised_f")), nme.get(("all", "supervised_all")), nme.get((key, "teacher"))
  if None in (lower, upper, teacher) or lower == upper:
    return None
  return (lower - teacher) / (lower - upper)


def gap_line(rows):
  """The report's sentence of gap_recovered at every label fraction of `rows` ("n/a" where undefined)."""
  fractions = sorted({float(r["label_fraction"]) for r in rows if r["label_fraction"] != "all"})
  gaps = [gap_recovered(rows, f) for f in fractions]
  listed = ", ".join(f"f = {f:g}: " + ("n/a" if g is None else f"{g:.2f}") for f, g in zip(fractions, gaps))
  legend = (" (n/a: a row is missing, or supervised_f and supervised_all print the same NME)"
            if None in gaps else "")
  return ("Gap recovered by the TSAL teacher, (NME_supervised_f - NME_teacher_f) / (NME_supervised_f - "
          f"NME_supervised_all): {listed}{legend}.")


def plot(rows, path):
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  from tsal_tf.io_utils import atomic_path
  figure, axis = plt.subplots(figsize=(6, 4), dpi=120)
  for model, style in (("supervised_f", "o-"), ("mean_teacher", "d-"), ("teacher", "s-"), ("student", "^--")):
    points = sorted((float(r["label_fraction"]), float(r["nme_ip"])) for r in rows
                    if r["model"] == model and r["label_fraction"] != "all")
    if points:
      axis.plot(*zip(*points), style, label=model)
  for r in rows:
    if r["model"] == "supervised_all":
      axis.axhline(float(r["nme_ip"]), color="k", linestyle=":", label=f"supervised, all labels {r['nme_ip']}%")
  axis.set_xlabel("fraction of labeled training faces"), axis.set_ylabel("NME inter-pupil, 300W common (%)")
  axis.set_ylim(bottom=0), axis.grid(alpha=0.3), axis.legend(fontsize=8)
  figure.tight_layout()
  with atomic_path(path) as tmp:
    figure.savefig(tmp, format="png")
  plt.close(figure)


def write_report(results, args, command):
  from tsal_tf.io_utils import atomic_write_report, atomic_write_text
  rows = table(results)
  buffer = io.StringIO()
  writer = csv.DictWriter(buffer, CSV_HEADER, lineterminator="\n")
  writer.writeheader()
  writer.writerows(rows)
  atomic_write_text(os.path.join(args.report_dir, "semi_supervised.csv"), buffer.getvalue())
  plot(rows, os.path.join(args.report_dir, "semi_supervised.png"))
  machines = sorted({result.get("machine", "not recorded") for _, _, result in results})
  lines = ["# Semi-supervision on partially labeled 300W stills (300W common, 554 faces)", "", f"`{command}`", "",
           f"Training config `{args.base_flags}` (extra flags: `{args.extra_flags or 'none'}`; TSAL and mean-teacher "
           f"rows also `{args.tsal_flags or 'none'}`), label seed "
           f"{args.label_seed}, {args.minutes:g} CPU minutes per row (steps from "
           f"{'--rates ' + args.rates if args.rates else 'a calibration per row kind'}). NME "
           "of the fused output in percent.", "",
           "| label fraction | model | minutes | steps | NME IP | NME IO |", "| ---: | --- | ---: | ---: | ---: | ---: |"]
  lines += [f"| {r['label_fraction']} | {r['model']} | {r['minutes']} | {r['steps']} | {r['nme_ip']} | {r['nme_io']} |"
            for r in rows]
  for model, fraction, result in results:
    if model == "burn_in":
      summary = result["metrics"][evaluated_role(result["metrics"])]["all"]["inter_pupil"]["fused"]["nme"]
      lines += ["", f"f = {fraction:g}: the TSAL and mean-teacher rows started from a supervised model of the labeled "
                f"faces ({args.burn_in:g} of the budget: {result['minutes']:.1f} min, {result['steps']} steps, NME IP "
                f"{100 * summary:.2f}%; `--init_from`), included in their minutes and steps."]
  if any(r["label_fraction"] != "all" for r in rows):
    lines += ["", gap_line(rows)]
  lines += ["", f"Machine{'s' if len(machines) > 1 else ''} of the rows: {'; '.join(machines)}.", "",
            "![semi-supervised](semi_supervised.png)", ""]
  atomic_write_report(os.path.join(args.report_dir, "semi_supervised.md"), "\n".join(lines))
  return rows


def main(argv=None):
  args = parse_args(argv)
  command = "python benchmarks/semi_supervised.py " + " ".join(argv if argv is not None else sys.argv[1:])
  os.chdir(ROOT)
  planned = plan_rows(args)
  if not planned:
    raise SystemExit("no rows: give --fractions and --models")
  results, burn_ins = [], {}
  for row in planned:
    steps = round(row.budget * args.minutes * 60 * learning_curve.steps_per_second(row.kind, args))
    result = learning_curve.run_row(row.name, row.kind, steps, row_args(args, *row.flags))
    if row.model == "burn_in":
      burn_ins[row.fraction] = result
    elif row.kind == "tsal":
      result = with_burn_in(result, burn_ins.get(row.fraction))
    results.append((row.model, row.fraction, result))
    rows = write_report(results, args, command)  # a partial report after every row
  for row in rows:
    print(f"f={row['label_fraction']:5s} {row['model']:15s} {row['minutes']:>6s} min {str(row['steps']):>6s} steps  "
          f"NME IP {row['nme_ip']}%  IO {row['nme_io']}%")
  print(f"wrote {args.report_dir}/semi_supervised.md, .csv, .png")


if __name__ == "__main__":
  main()
