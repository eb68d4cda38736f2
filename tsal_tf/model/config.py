"""Network configuration: plain data (see configs/*.flags for the values each experiment uses)."""

import dataclasses

from tsal_tf.data.augment import CROP_MARGIN


@dataclasses.dataclass(frozen=True)
class NetworkConfig:
  """Shapes and widths of one TSAL network (teacher and student share it).

  Attributes:
    input_size: S, square input crop side in pixels.
    num_points: N landmarks.
    heatmap_stride: heatmaps, centre map, offsets and flow are at S / heatmap_stride.
    widths: encoder channels per stage; stage i is at S / 2^(i+1).
    blocks: residual blocks per encoder stage.
    head_width: channels of the decoder (the CLOR heads' hidden convs have half as many).
    lhr_width: channels of the LHR head's hidden conv (0 = none).
    flow_widths: channels of the motion-field (MFE) encoder stages.
    flow_scales: number of flow scales (finest = heatmap resolution, each next one half as large).
    heatmap_decoder: how p_M is read from the heatmap logits (decoders.HEATMAP_DECODERS).
    precision: "float32", "bfloat16" or "auto" (the landmark net's compute dtype; heads' outputs stay float32;
      "auto" = bfloat16 where this machine multiplies it natively, float32 elsewhere: tsal_tf.hardware).
    crop_margin: how the network's input frames a face: crop side / face-box side (augment.centre_transform).
      Training, evaluation, export and infer all crop with it; a network trained at one margin is not
      evaluated at another.
  """
  input_size: int = 64
  num_points: int = 68
  heatmap_stride: int = 2
  widths: tuple = (16, 32, 48, 64)
  blocks: int = 1
  head_width: int = 32
  lhr_width: int = 0
  flow_widths: tuple = (16, 32, 48)
  flow_scales: int = 3
  heatmap_decoder: str = "soft_argmax"
  precision: str = "float32"
  crop_margin: float = CROP_MARGIN

  @property
  def heatmap_size(self):
    return self.input_size // self.heatmap_stride

  def head_channels(self):
    """The {name: channels} mapping the heads are built from: LHR (N), CLOR centre (1) and offsets (2N)."""
    return {"heatmaps": self.num_points, "centre": 1, "offsets": 2 * self.num_points}
