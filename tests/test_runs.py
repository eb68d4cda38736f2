"""Run directories: the network a run's flags.txt describes."""

from tsal_tf import runs
from tsal_tf.data import augment

FLAGS = {"input_size": "32", "heatmap_stride": "4", "widths": "8,16", "head_width": "8", "flow_widths": "8,16",
         "flow_scales": "2"}


def test_network_config_keeps_the_runs_crop_margin():
  assert runs.network_config_from(dict(FLAGS, crop_margin="1.1")).crop_margin == 1.1
  # A run whose flags.txt predates --crop_margin was trained on crops of the default margin.
  assert runs.network_config_from(FLAGS).crop_margin == augment.CROP_MARGIN == 1.35
