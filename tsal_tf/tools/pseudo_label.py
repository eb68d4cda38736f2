"""Label 300W-style faces with a trained run: a folder whose `.pts` are the run's predictions (self-training).

    python -m tsal_tf.tools.pseudo_label --run_dir=runs/ss20/burn_in_f0.1 \
        --data_dir=../shared/data/300w_helen_train,../shared/data/300w_lfpw_train \
        --keep_labels=runs/ss20/burn_in_f0.1/labeled.txt --out_dir=runs/pseudo_f0.1

Every face of --data_dir gets a link to its image in --out_dir and a `.pts` file: its own annotation where the
face is listed in --keep_labels (a run's `labeled.txt`), the run's teacher's prediction (fused output, flip
test by default; a single-model run's teacher is its evaluated network) everywhere else. Training on the folder
(`--train_dir=<out_dir>`) is one round of offline self-training, the partially labeled baseline that TSAL's
online pseudo-labels compete with. The face's crop comes from its annotation's box, as for every 300W face here
(the shared crops are cut around the annotation too). It prints how far the pseudo-labels are from the folders'
own annotations of those faces (NME in percent, --normalizer): in a study where the annotations exist but were
held back, the quality of what training on the folder learns from.

--kept_copies=r writes each kept face r times (a training epoch then augments each copy its own way), so that
at one label in ten r = 9 makes about half of every batch annotated, as `train --labeled_share=0.5` does for
clips.

--keep_agreeing=q writes only the fraction q of the run-labeled faces whose prediction agrees best with that of
their mirror image (the pseudo-label filter of confidence-based self-training): a face's disagreement is
  a = 1/N sum_n ||y_n - flip(y'_n)||   (crop pixels),
y the fused prediction of the crop, y' that of the mirrored crop mapped back (the two views of the flip test;
both views are predicted for every face, with or without --flip_test, so that the disagreement is known).
The tool prints how well it ranks the pseudo-labels' errors (Spearman's rho; 0.62 for the burn-in of one label
in ten, results/semi_supervised.md, session 18). The faces left out are not in the folder at all.
"""

import collections
import os
import shutil

import numpy as np
from absl import flags

from tsal_tf import cli  # first: quiets TensorFlow's C++ start-up log
from tsal_tf.data import formats

FLAGS = flags.FLAGS


def define_flags():
  """The command line's flags, defined only when it runs: their names (--run_dir, --data_dir, ...) are other
  CLIs' too, and the tests import this module beside them."""
  flags.DEFINE_string("run_dir", None, "Training run whose teacher labels the faces.")
  flags.DEFINE_list("data_dir", None, "300W-style folders of the faces (image + .pts), comma-separated.")
  flags.DEFINE_string("keep_labels", None, "Text file of image paths (one per line, as a run's labeled.txt) whose "
                      "own annotation is kept; without it every face is labeled by the run.")
  flags.DEFINE_string("out_dir", None, "Folder to write (image links + .pts); must not exist yet.")
  flags.DEFINE_integer("kept_copies", 1, "How many times each kept face is written (its share of the stream).",
                       lower_bound=1)
  flags.DEFINE_float("keep_agreeing", 1.0, "Write only this fraction, in (0, 1], of the run-labeled faces: those "
                     "whose prediction agrees best with their mirror image's (module docstring).")
  flags.register_validator("keep_agreeing", lambda q: 0.0 < q <= 1.0, "--keep_agreeing must be in (0, 1]")
  flags.DEFINE_boolean("flip_test", True, "Average each prediction with its mirror image's (evaluate --flip_test).")
  flags.DEFINE_enum("normalizer", "inter_pupil", ["inter_pupil", "inter_ocular"], "NME of the printed report.")
  flags.mark_flags_as_required(["run_dir", "data_dir", "out_dir"])


def predict_source_landmarks(net, samples, gamma, flip_test, mirror_shift, batch_size=64):
  """The fused prediction of `net` for every face of `samples` (formats.FaceSample), in source image pixels,
  float32 [M, N, 2], and each face's flip disagreement float32 [M] (module docstring; crop pixels). Each face is
  cropped around its annotation's box without augmentation, predicted in both views, and mapped back through the
  crop's inverse (augment.crop_to_source)."""
  from tsal_tf.data import augment, schemes, sources
  from tsal_tf.evaluation import predict_images_plain_and_flip_test
  scheme = schemes.scheme_for(net.config.num_points)
  faces = sources.network_crops(samples, net.config, scheme)
  points, disagreement = [], []
  for start in range(0, len(samples), batch_size):
    examples = [faces.example(i) for i in range(start, min(start + batch_size, len(samples)))]
    plain, both = predict_images_plain_and_flip_test(net, np.stack([e["image"] for e in examples]), gamma,
                                                     mirror_shift=mirror_shift)
    fused = both["fused"] if flip_test else plain["fused"]
    # both = (plain + mirrored) / 2, so ||plain - mirrored|| = 2 ||both - plain||.
    disagreement.append(2.0 * np.linalg.norm(both["fused"] - plain["fused"], axis=-1).mean(-1))
    points += [augment.crop_to_source(p, augment.CropTransform(e["matrix"], net.config.input_size), scheme)
               for p, e in zip(fused, examples)]
  return np.stack(points).astype(np.float32), np.concatenate(disagreement).astype(np.float32)


def rank_correlation(a, b):
  """Spearman's rho of two float vectors [M]: the Pearson correlation of their ranks (ties ranked by order)."""
  ranks = [np.argsort(np.argsort(v, kind="stable")).astype(np.float64) for v in (a, b)]
  return float(np.corrcoef(*ranks)[0, 1])


def output_names(samples, subsets):
  """`<subset>_<image stem>` of each face (LFPW's train and test folders share image names); refuses two faces
  that would share a name (two --data_dir folders of the same base name)."""
  names = [f"{subset}_{os.path.splitext(os.path.basename(s.image_path))[0]}" for s, subset in zip(samples, subsets)]
  repeated = sorted(name for name, count in collections.Counter(names).items() if count > 1)
  if repeated:
    raise ValueError(f"{len(repeated)} faces would share an output name (e.g. {repeated[0]}): give the data "
                     f"folders different base names")
  return names


def write_folder(out_dir, samples, names, landmarks, copies):
  """Links to the images of `samples` and `.pts` files of `landmarks` [M, N, 2] in a new folder `out_dir`,
  face i `copies[i]` times, as `names[i]` and then `names[i]_copy<c>` for c = 1 .. copies[i] - 1. The folder is
  filled under a temporary name and renamed when complete: an interrupted run leaves no half-labeled folder."""
  partial = out_dir.rstrip("/") + ".partial"
  shutil.rmtree(partial, ignore_errors=True)
  os.makedirs(partial)
  for sample, stem, points, count in zip(samples, names, landmarks, copies):
    extension = os.path.splitext(sample.image_path)[1]
    for copy in range(count):
      name = stem + (f"_copy{copy}" if copy else "")
      os.symlink(os.path.realpath(sample.image_path), os.path.join(partial, name + extension))
      with open(os.path.join(partial, name + ".pts"), "w", encoding="utf-8") as f:
        f.write(formats.pts_text(points))
  os.rename(partial, out_dir)


def kept_mask(keep_labels, samples):
  """bool [M]: which of `samples` the image list `keep_labels` names (None: none). Relative paths in the list
  (a run's labeled.txt holds them as training saw them) resolve from the current directory."""
  if not keep_labels:
    return np.zeros(len(samples), bool)
  with open(keep_labels, encoding="utf-8") as f:
    listed = {os.path.realpath(line.strip()) for line in f if line.strip()}
  paths = [os.path.realpath(s.image_path) for s in samples]
  missing = listed - set(paths)
  if missing:
    raise ValueError(f"{keep_labels}: {len(missing)} of its {len(listed)} images are not faces of the data "
                     f"folders (e.g. {sorted(missing)[0]}; relative paths resolve from {os.getcwd()})")
  return np.array([p in listed for p in paths])


def pseudo_label(run_dir, data_dirs, out_dir, keep_labels=None, flip_test=True, normalizer="inter_pupil",
                 kept_copies=1, keep_agreeing=1.0):
  """Write the folder (module docstring); returns (NME of the written pseudo-labels against the folders'
  annotations, a fraction, or None when every face is kept; number of pseudo-labels written)."""
  from tsal_tf import metrics, runs
  from tsal_tf.evaluation import run_mirror_shift
  if not 0.0 < keep_agreeing <= 1.0:
    raise ValueError(f"keep_agreeing={keep_agreeing}: not in (0, 1]")
  if os.path.exists(out_dir):
    raise ValueError(f"{out_dir}: exists already (pseudo-labels are written to a new folder)")
  samples, subsets = formats.load_pts_folders(data_dirs)
  names = output_names(samples, subsets)
  keep = kept_mask(keep_labels, samples)
  teacher, _, run_flags = runs.load_networks(run_dir)
  landmarks = np.stack([s.landmarks for s in samples])
  if landmarks.shape[1] != teacher.config.num_points:
    raise ValueError(f"{','.join(data_dirs)}: {landmarks.shape[1]}-point faces, {run_dir} predicts "
                     f"{teacher.config.num_points}")
  to_label = [s for s, k in zip(samples, keep) if not k]
  nme, written = None, keep.copy()
  if to_label:
    print(f"labeling {len(to_label)} of {len(samples)} faces with {run_dir}{' (flip test)' if flip_test else ''}",
          flush=True)
    predicted, disagreement = predict_source_landmarks(
        teacher, to_label, float(run_flags.get("gamma", 0.8)), flip_test,
        run_mirror_shift(run_flags, teacher.config.input_size))
    errors = metrics.per_face_nme(predicted, landmarks[~keep], normalizer)
    if len(to_label) > 1:
      rho = rank_correlation(disagreement, errors)
      print(f"flip disagreement against the pseudo-labels' NME: Spearman rho {rho:.2f}", flush=True)
    chosen = np.zeros(len(to_label), bool)
    chosen[np.argsort(disagreement, kind="stable")[:max(1, round(keep_agreeing * len(to_label)))]] = True
    if keep_agreeing < 1.0:
      print(f"keeping the {chosen.sum()} best-agreeing (flip disagreement <= {disagreement[chosen].max():.2f} "
            f"crop px): their NME {100 * errors[chosen].mean():.2f}% against {100 * errors.mean():.2f}% for all",
            flush=True)
    nme = float(errors[chosen].mean())
    landmarks[~keep] = predicted
    written[np.flatnonzero(~keep)[chosen]] = True
  pick = np.flatnonzero(written)
  write_folder(out_dir, [samples[i] for i in pick], [names[i] for i in pick], landmarks[pick],
               np.where(keep, kept_copies, 1)[pick])
  return nme, len(pick) - int(keep.sum())


def main(argv):
  del argv
  nme, count = pseudo_label(FLAGS.run_dir, FLAGS.data_dir, FLAGS.out_dir, FLAGS.keep_labels, FLAGS.flip_test,
                            FLAGS.normalizer, FLAGS.kept_copies, FLAGS.keep_agreeing)
  if nme is not None:
    print(f"pseudo-labels against the folders' own annotations: NME {100 * nme:.2f}% ({FLAGS.normalizer})")
  print(f"wrote {FLAGS.out_dir}: {count} pseudo-labels")


if __name__ == "__main__":
  define_flags()
  cli.run(main)
