"""The paper's ablation study (Table 3 and the mu sweep of Fig. 6) on one data set and budget:

    python -m tsal_tf.ablate --flagfile=configs/ablation_300w_video.flags

Every row trains with `python -m tsal_tf.train` in its own run directory under --study_dir (a fresh process
per row, under the Keras backend of this process: `KERAS_BACKEND=jax python -m tsal_tf.ablate ...` trains every
row with JAX), is evaluated on the --eval_dir folders, and logs its hyper-parameters and metrics through
TensorBoard's HParams plugin, so `tensorboard --logdir <study_dir>` compares the rows side by side. Re-running
skips finished rows and resumes an interrupted one. Then the report: results/ablation.md, .csv and plots (NME per
row, CED curves, tracking pseudo-label AUC with and without MFDS (Fig. 5), NME vs mu (Fig. 6)).
"""

import csv
import io
import json
import os
import subprocess
import sys
import time

from absl import flags

from tsal_tf import cli  # first: quiets TensorFlow's C++ start-up log
from tsal_tf import child_process

FLAGS = flags.FLAGS
flags.DEFINE_string("base_flags", "configs/300w_video.flags", "Training flagfile shared by every row.")
flags.DEFINE_string("study_dir", "runs/ablation", "Folder of the rows' run directories.")
flags.DEFINE_list("eval_dir", ["../shared/data/300w_helen_test"],
                  "300W-style evaluation folders, comma-separated, evaluated together (300W common: "
                  "300w_helen_test,300w_lfpw_test).")
flags.DEFINE_list("extra_flags", [], "Flags added to every row (e.g. --epochs=2), comma-separated.")
flags.DEFINE_list("parts", ["table3", "mu"], "Which parts to run: table3, mu.")
flags.DEFINE_string("report_dir", "results", "Where ablation.md / .csv / plots go.")
flags.DEFINE_list("only_rows", [], "Run only these rows (names as in the report); default all.")
flags.DEFINE_integer("eval_limit", 0, "Evaluate each row on at most this many faces (0 = all).")

TABLE3 = [  # (row, sic, mfds, asynchronous learning)
    ("baseline", False, False, False), ("single_sic", True, False, False), ("single_mfds", False, True, False),
    ("single_sic_mfds", True, True, False), ("st", False, False, True), ("st_sic", True, False, True),
    ("st_mfds", False, True, True), ("st_sic_mfds", True, True, True)]
MU_SWEEP = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


def rows(parts):
  """[(name, {hyper-parameters})] of the requested parts (the mu = 0.6 row is Table 3's full row)."""
  selected = []
  if "table3" in parts:
    selected += [(name, {"sic": sic, "mfds": mfds, "async_learning": asynchronous, "mu": 0.6})
                 for name, sic, mfds, asynchronous in TABLE3]
  if "mu" in parts:
    selected += [("st_sic_mfds" if mu == 0.6 else f"mu_{mu:.1f}",
                  {"sic": True, "mfds": True, "async_learning": True, "mu": mu}) for mu in MU_SWEEP]
  unique = {}
  for name, hparams in selected:
    unique.setdefault(name, hparams)
  return [(n, h) for n, h in unique.items() if not FLAGS.only_rows or n in FLAGS.only_rows]


def flag_args(hparams):
  return [f"--{k}" if v is True else f"--no{k}" if v is False else f"--{k}={v}" for k, v in hparams.items()]


def run_row(name, hparams):
  """Train (or resume) and evaluate one row; returns its evaluation report (cached in the run dir)."""
  run_dir = os.path.join(FLAGS.study_dir, name)
  report_path = os.path.join(run_dir, "eval.json")
  if os.path.isfile(report_path):
    print(f"[ablate] {name}: done, skipped")
    with open(report_path, encoding="utf-8") as f:
      report = json.load(f)
    from tsal_tf import runs
    report.setdefault("gamma", float(runs.read_run_flags(run_dir).get("gamma", 0.8)))  # reports cached without it
    return report
  resume = ["--resume"] if os.path.isdir(os.path.join(run_dir, "checkpoints")) else []
  command = [sys.executable, "-m", "tsal_tf.train", f"--flagfile={FLAGS.base_flags}", f"--run_dir={run_dir}",
             "--verbose=2", *flag_args(hparams), *[f if f.startswith("--") else f"--{f}" for f in FLAGS.extra_flags],
             *resume]
  print(f"[ablate] {name}: {'resuming' if resume else 'training'} ({' '.join(flag_args(hparams))})", flush=True)
  start = time.time()
  os.makedirs(run_dir, exist_ok=True)
  log_path = os.path.join(run_dir, "train.log")
  with open(log_path, "a", encoding="utf-8") as log:
    code = child_process.run(command, stdout=log, stderr=subprocess.STDOUT)
  if code:
    raise SystemExit(f"error: row {name}: training failed (exit {code}); its log: {log_path}")
  seconds = time.time() - start
  from tsal_tf import evaluation
  from tsal_tf.io_utils import atomic_write_json
  report, curves = evaluation.evaluate_run(run_dir, list(FLAGS.eval_dir), limit=FLAGS.eval_limit)
  report["train_seconds"] = seconds  # of the session that finished the row (a resumed row: its last part)
  report["hparams"] = hparams
  report["curves"] = {k: [float(x) for x in v] for k, v in curves.items()}
  from tsal_tf.callbacks import tensorflow_available
  if tensorflow_available():
    write_hparams(run_dir, hparams, report)
  atomic_write_json(report_path, report)
  print(f"[ablate] {name}: {report['train_seconds'] / 60:.1f} min", flush=True)
  return report


def headline(report):
  """(role, fused summary) reported for a row: the teacher with asynchronous learning, else the model."""
  role = "teacher" if "teacher" in report["results"] else "student"
  return role, report["results"][role]["fused"]


def fusion_text(report):
  """'fused = 1 p_M + 0 p_C' from the gamma a row was evaluated with (eq. 4)."""
  return f"fused = {report['gamma']:g} p_M + {1 - report['gamma']:g} p_C"


def zero_motion_row(report):
  """The Fig. 5 table's reference line: tracking that predicts no motion (absent from older cached reports)."""
  summary = report.get("zero_motion_tracking")
  return [] if summary is None else [f"| no motion (frame 0's points copied) | | {summary['auc']:.4f} |"]


def write_hparams(run_dir, hparams, report):
  """One HParams session per row (TensorBoard's HParams tab lists them side by side)."""
  import tensorflow as tf
  from tensorboard.plugins.hparams import api as hp
  with tf.summary.create_file_writer(os.path.join(run_dir, "hparams")).as_default():
    hp.hparams({k: (float(v) if not isinstance(v, bool) else v) for k, v in hparams.items()}, trial_id=run_dir)
    for role, sources in report["results"].items():
      for source, summary in sources.items():
        if isinstance(summary, dict) and "nme" in summary:
          tf.summary.scalar(f"eval/{role}_{source}_nme", summary["nme"], step=0)
          tf.summary.scalar(f"eval/{role}_{source}_auc", summary["auc"], step=0)


def write_hparams_config(study_dir):
  import tensorflow as tf
  from tensorboard.plugins.hparams import api as hp
  metrics = [hp.Metric(f"eval/{role}_{source}_{kind}", group="hparams", display_name=f"{role} {source} {kind}")
             for role in ("teacher", "student") for source in ("fused", "p_M", "p_C", "tracking")
             for kind in ("nme", "auc")]
  with tf.summary.create_file_writer(study_dir).as_default():
    hp.hparams_config(hparams=[hp.HParam("sic", hp.Discrete([False, True])),
                               hp.HParam("mfds", hp.Discrete([False, True])),
                               hp.HParam("async_learning", hp.Discrete([False, True])),
                               hp.HParam("mu", hp.RealInterval(0.0, 1.0))], metrics=metrics)


def write_report(results, report_dir, command):
  """results/ablation.md, ablation.csv and ablation_*.png from {row: report}."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  import numpy as np
  from tsal_tf import metrics
  from tsal_tf.io_utils import atomic_path, atomic_write_report, atomic_write_text
  os.makedirs(report_dir, exist_ok=True)
  table = io.StringIO()
  writer = csv.writer(table)
  header = ["row", "sic", "mfds", "async", "mu", "model", "NME fused %", "NME p_M %", "NME p_C %",
            "AUC@0.08 fused", "tracking AUC@0.08", "train min"]
  writer.writerow(header)
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  for name, report in results.items():
    h = report["hparams"]
    roles = ["teacher", "student"] if "teacher" in report["results"] else ["student"]
    for role in roles:
      r = report["results"][role]
      row = [name, h["sic"], h["mfds"], h["async_learning"], h["mu"], role if h["async_learning"] else "single",
             f"{100 * r['fused']['nme']:.2f}", f"{100 * r['p_M']['nme']:.2f}", f"{100 * r['p_C']['nme']:.2f}",
             f"{r['fused']['auc']:.4f}", f"{r['tracking']['auc']:.4f}", f"{report['train_seconds'] / 60:.1f}"]
      writer.writerow(row)
      lines.append("| " + " | ".join(str(x) for x in row) + " |")
  atomic_write_text(os.path.join(report_dir, "ablation.csv"), table.getvalue())
  figure, axes = plt.subplots(1, 3, figsize=(15, 4), dpi=110)
  names = list(results)
  axes[0].bar(names, [100 * headline(results[n])[1]["nme"] for n in names])
  axes[0].set_ylabel("NME fused % (teacher or single model)"), axes[0].tick_params(axis="x", rotation=60)
  fused_errors = {n: results[n]["curves"][f"{headline(results[n])[0]} fused"] for n in names}
  # The x range reaches the 90th percentile of all rows' errors (at least 0.08, the AUC/FR threshold, drawn
  # dashed), so that the curves of weak models still show instead of a flat zero.
  x_max = min(1.0, max(0.08, float(np.percentile(np.concatenate(list(fused_errors.values())), 90))))
  for name in names:
    thresholds, fractions = metrics.ced_curve(fused_errors[name], threshold=x_max)
    axes[1].plot(thresholds, fractions, label=name)
  axes[1].axvline(0.08, color="grey", linestyle="--", linewidth=0.8)
  axes[1].set_xlabel("NME (fused)"), axes[1].set_ylabel("fraction of faces")
  axes[1].set_title("CED (fused)"), axes[1].legend(fontsize=6)
  mu_rows = [(r["hparams"]["mu"], 100 * headline(r)[1]["nme"]) for n, r in results.items()
             if r["hparams"]["async_learning"] and r["hparams"]["sic"] and r["hparams"]["mfds"]]
  if mu_rows:
    mu_rows.sort()
    axes[2].plot(*zip(*mu_rows), marker="o")
    axes[2].set_xlabel("mu"), axes[2].set_ylabel("teacher NME fused %"), axes[2].set_title("Fig. 6 analogue")
  figure.tight_layout()
  with atomic_path(os.path.join(report_dir, "ablation.png")) as temporary:
    figure.savefig(temporary, format="png")
  plt.close(figure)
  fig5 = [(n, results[n]["results"][headline(results[n])[0]]["tracking"]["auc"]) for n in names]
  folders = " + ".join(os.path.basename(d) for d in FLAGS.eval_dir)
  text = ["# Ablation study (Table 3 and Fig. 5-6 analogues)", "",
          f"Regenerate: `{command}`", "",
          f"Evaluation: {results[names[0]]['faces']} faces of `{folders}`, NME normalised "
          f"by {results[names[0]]['normalizer']}; {fusion_text(results[names[0]])}. Training: `{FLAGS.base_flags}` "
          f"with {' '.join(FLAGS.extra_flags) or 'no extra flags'}.", "", *lines, "",
          "Fig. 5 analogue — AUC@0.08 of the tracked pseudo-labels phi(V, p_l) on the unlabeled frames:", "",
          "| row | MFDS | tracking AUC@0.08 |", "|---|---|---|",
          *[f"| {n} | {results[n]['hparams']['mfds']} | {auc:.4f} |" for n, auc in fig5],
          *zero_motion_row(results[names[0]]), "",
          "![ablation](ablation.png)", ""]
  atomic_write_report(os.path.join(report_dir, "ablation.md"), "\n".join(text))


def main(argv):
  del argv
  from tsal_tf.callbacks import tensorflow_available
  os.makedirs(FLAGS.study_dir, exist_ok=True)
  if tensorflow_available():
    write_hparams_config(FLAGS.study_dir)
  results = {name: run_row(name, hparams) for name, hparams in rows(FLAGS.parts)}
  command = "python -m tsal_tf.ablate " + " ".join(a for a in sys.argv[1:])
  write_report(results, FLAGS.report_dir, command)
  print(f"wrote {FLAGS.report_dir}/ablation.md, ablation.csv and ablation.png")


if __name__ == "__main__":
  cli.run(main)
