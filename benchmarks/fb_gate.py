"""Which tracked points the forward-backward gate (`train --fb_gate`) keeps, and how good they are.

    .venv/bin/python benchmarks/fb_gate.py --run_dir=runs/mp_tsal \
        --data_dir=../shared/data/300w_helen_test,../shared/data/300w_lfpw_test --gates=0.25,0.5,1

On the clips `evaluate` measures tracking on (each test face's still clip of --clip_length frames, or with
--eval_data=300vw every clip of a 300VW root), the run's evaluated network tracks frame 0's ground truth through
the clip, as a labeled clip's pseudo-labels are tracked in training. Every tracked point of frames 1..K-1 gets its
forward-backward error e (`decoders.forward_backward_error`, heatmap pixels, what the gate compares with
--fb_gate) and its tracking error |tracked - truth| / d (d: the face's normalizer distance on that frame, in
percent: the mean over all points is the tracking NME that `evaluate` prints). For each gate g it prints the share
of points kept (e <= g) and the mean tracking error of the kept and of the dropped points: a gate worth using
keeps most points and drops the ones that tracked worst.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402


def point_errors(net, frames, tracks, normalizer="inter_pupil"):
  """(forward-backward errors, tracking errors), each [M, K-1, N], of `net` tracking the first frame's points
  tracks[:, 0] (crop pixels) through clips frames uint8 [M, K, S, S, 3] (`evaluation.track_clips`); tracking
  errors as fractions of the normalizer distance of each frame's ground truth tracks[:, 1:]."""
  from tsal_tf import evaluation, metrics
  tracked, fb_errors = evaluation.track_clips(net, frames, tracks[:, 0], fb_errors=True)
  truth = np.asarray(tracks[:, 1:], np.float64)
  distance = metrics.normalizer_distance(truth, normalizer)[..., None]
  return fb_errors, np.linalg.norm(tracked[:, 1:] - truth, axis=-1) / distance


def gate_table(fb_errors, track_errors, gates):
  """Rows (gate, share kept, mean error kept, mean error dropped) in percent; NaN where a side is empty."""
  rows = []
  for gate in gates:
    kept = fb_errors <= gate
    mean = lambda mask: 100 * float(track_errors[mask].mean()) if mask.any() else float("nan")
    rows.append((gate, 100 * float(kept.mean()), mean(kept), mean(~kept)))
  return rows


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--run_dir", required=True)
  parser.add_argument("--data_dir", required=True, help="300W-style folders, comma-separated, or a 300VW root")
  parser.add_argument("--eval_data", default="images", choices=["images", "300vw"])
  parser.add_argument("--gates", default="0.25,0.5,1", help="forward-backward gates to tabulate, heatmap pixels")
  parser.add_argument("--clip_length", type=int, default=3)
  parser.add_argument("--normalizer", default="inter_pupil")
  parser.add_argument("--limit", type=int, default=0, help="at most this many faces or clips (0: all)")
  args = parser.parse_args()
  from tsal_tf import evaluation
  from tsal_tf import runs
  teacher, student, run_flags = runs.load_networks(args.run_dir)
  role, net = next(iter(runs.evaluated_roles(run_flags, teacher, student).items()))
  data_dir = args.data_dir.split(",") if args.eval_data == "images" else args.data_dir
  data = evaluation.evaluation_data(data_dir, net.config.input_size, args.clip_length, net.config.num_points,
                                    args.eval_data, args.limit, net.config.crop_margin)
  fb_errors, track_errors = point_errors(net, data.frames, data.tracks, args.normalizer)
  no_motion = evaluation.zero_motion_tracking(data.tracks, args.normalizer)[0]["nme"]
  print(f"{args.run_dir} ({role}): {len(data.frames)} clips of {args.clip_length} frames, "
        f"{track_errors.size} tracked points; tracking NME {100 * track_errors.mean():.2f}% ({args.normalizer}; "
        f"no motion {100 * no_motion:.2f}%); "
        f"forward-backward error median {np.median(fb_errors):.3f}, 90th percentile "
        f"{np.percentile(fb_errors, 90):.3f} heatmap px")
  print("\n| --fb_gate (heatmap px) | points kept | tracking error, kept | tracking error, dropped |")
  print("| ---: | ---: | ---: | ---: |")
  for gate, kept, error_kept, error_dropped in gate_table(fb_errors, track_errors,
                                                           [float(g) for g in args.gates.split(",")]):
    print(f"| {gate:g} | {kept:.1f}% | {error_kept:.2f}% | {error_dropped:.2f}% |")


if __name__ == "__main__":
  main()
