"""The one place where flags become config objects: network, objective, optimizer and data configs.

Library code takes these configs and never reads flags; the CLIs call the functions here.
"""

import os

from absl import flags

from tsal_tf.data import build
from tsal_tf.data.build import DataConfig
from tsal_tf.model.config import NetworkConfig
from tsal_tf.objective import ObjectiveConfig
from tsal_tf.optimization import OptimizerConfig
from tsal_tf.optimization import make_optimizer

FLAGS = flags.FLAGS


def save_flags(run_dir, num_points):
  """<run_dir>/flags.txt: every flag of the run (what evaluate / export read back), with --num_points set to
  the training data's point count."""
  from tsal_tf.io_utils import atomic_write_text
  lines = [f"--num_points={num_points}" if line.startswith("--num_points=") else line
           for line in FLAGS.flags_into_string().splitlines()]
  atomic_write_text(os.path.join(run_dir, "flags.txt"), "\n".join(lines) + "\n")


def describe_nme(results):
  """'student/fused_nme 12.34%, ...' of a {`val/<role>/<source>_nme`: value} dict."""
  return ", ".join(f"{k.split('/', 1)[1]} {100 * v:.2f}%" for k, v in sorted(results.items()))


def network_config(num_points):
  """The network of the flags, for landmarks of `num_points` points (the training data's scheme)."""
  return NetworkConfig(input_size=FLAGS.input_size, num_points=num_points, heatmap_stride=FLAGS.heatmap_stride,
                       widths=tuple(int(w) for w in FLAGS.widths), blocks=FLAGS.blocks, head_width=FLAGS.head_width,
                       lhr_width=FLAGS.lhr_width,
                       flow_widths=tuple(int(w) for w in FLAGS.flow_widths), flow_scales=FLAGS.flow_scales,
                       heatmap_decoder=FLAGS.heatmap_decoder, precision=FLAGS.precision,
                       crop_margin=FLAGS.crop_margin)


def objective_config():
  return ObjectiveConfig(sic=FLAGS.sic, mfds=FLAGS.mfds, mu=FLAGS.mu, heatmap_loss=FLAGS.heatmap_loss,
                         heatmap_sigma=FLAGS.heatmap_sigma, heatmap_weight=FLAGS.heatmap_weight,
                         integral_weight=FLAGS.integral_weight, wing_width=FLAGS.wing_width,
                         wing_epsilon=FLAGS.wing_epsilon, foreground_weight=FLAGS.foreground_weight,
                         clor_weight=FLAGS.clor_weight,
                         offset_weight=FLAGS.offset_weight, flow_weight=FLAGS.flow_weight,
                         smoothness_weight=FLAGS.smoothness_weight, ssim_weight=FLAGS.ssim_weight,
                         sic_weight=FLAGS.sic_weight,
                         mfds_weight=FLAGS.mfds_weight, pseudo_weight=FLAGS.pseudo_weight, fb_gate=FLAGS.fb_gate)


def optimizer_config():
  return OptimizerConfig(learning_rate=FLAGS.learning_rate, lr_schedule=FLAGS.lr_schedule, epochs=FLAGS.epochs,
                         lr_decay_epochs=tuple(int(e) for e in FLAGS.lr_decay_epochs),
                         warmup_steps=FLAGS.warmup_steps, final_fraction=FLAGS.lr_final_fraction,
                         weight_decay=FLAGS.weight_decay)


def data_config():
  return DataConfig(data=FLAGS.data, train_dirs=tuple(FLAGS.train_dir or ()), train_list=FLAGS.train_list,
                    val_dirs=tuple(FLAGS.val_dir or ()), train_count=FLAGS.train_count, val_count=FLAGS.val_count,
                    val_clip_count=FLAGS.val_clip_count, input_size=FLAGS.input_size,
                    clip_length=FLAGS.clip_length, label_stride=FLAGS.label_stride, frame_step=FLAGS.frame_step,
                    augment=FLAGS.augment, augment_rotation=FLAGS.augment_rotation,
                    augment_scale=FLAGS.augment_scale, augment_shift=FLAGS.augment_shift,
                    augment_blur=FLAGS.augment_blur, augment_noise=FLAGS.augment_noise,
                    occluder_prob=FLAGS.occluder_prob, still_motion=FLAGS.still_motion,
                    label_x_offset=FLAGS.label_x_offset, crop_margin=FLAGS.crop_margin, skip_bad=FLAGS.skip_bad,
                    unlabeled_lists=tuple(FLAGS.unlabeled_list or ()), label_fraction=FLAGS.label_fraction,
                    label_seed=FLAGS.label_seed, labeled_share=FLAGS.labeled_share)


def build_data():
  """The data of the flags (tsal_tf.data.build)."""
  return build.build_data(data_config())


def optimizer(steps_per_epoch):
  """The optimizer of the flags (tsal_tf.optimization)."""
  return make_optimizer(optimizer_config(), steps_per_epoch)
