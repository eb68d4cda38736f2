"""Reading a training run directory: its saved flags, network config and checkpointed networks."""

import dataclasses
import os


def read_run_flags(run_dir):
  """The `--name=value` lines of <run_dir>/flags.txt as a dict of strings."""
  path = os.path.join(run_dir, "flags.txt")
  if not os.path.isfile(path):
    raise FileNotFoundError(f"{path}: not a training run directory (no flags.txt)")
  values = {}
  with open(path, encoding="utf-8") as f:
    for line in f:
      line = line.strip()
      if line.startswith("--") and "=" in line:
        name, value = line[2:].split("=", 1)
        values[name] = value
      elif line.startswith("--no"):
        values[line[4:]] = "false"
      elif line.startswith("--"):
        values[line[2:]] = "true"
  return values


def has_teacher(run_flags):
  """Whether a run's teacher is a network of its own (eq. 8 ran on it: asynchronous learning, or a single model
  with --average_student); otherwise the run trained a single model, the student."""
  return run_flags.get("async_learning") != "false" or run_flags.get("average_student") == "true"


def roles_to_evaluate(teacher_of_its_own, teacher, student):
  """{role: network} to evaluate: both networks when the teacher is one of its own (eq. 8 ran on it), otherwise
  the single model, the student (its teacher never learned)."""
  return {"teacher": teacher, "student": student} if teacher_of_its_own else {"student": student}


def evaluated_roles(run_flags, teacher, student):
  """roles_to_evaluate for a run, from its flags (`has_teacher`)."""
  return roles_to_evaluate(has_teacher(run_flags), teacher, student)


def network_config_from(run_flags):
  from tsal_tf.model.config import NetworkConfig
  ints = lambda key: tuple(int(v) for v in run_flags[key].split(","))
  return NetworkConfig(input_size=int(run_flags["input_size"]), num_points=int(run_flags.get("num_points", 68)),
                       heatmap_stride=int(run_flags["heatmap_stride"]), widths=ints("widths"),
                       blocks=int(run_flags.get("blocks", 1)), head_width=int(run_flags["head_width"]),
                       lhr_width=int(run_flags.get("lhr_width", 0)),
                       flow_widths=ints("flow_widths"), flow_scales=int(run_flags["flow_scales"]),
                       heatmap_decoder=run_flags.get("heatmap_decoder", "soft_argmax"),
                       precision=run_flags.get("precision", "float32"),
                       crop_margin=float(run_flags.get("crop_margin", NetworkConfig.crop_margin)))


def copy_weights(source, target, where):
  """Assign every weight of network `source` to network `target` (same structure; `where` names the source
  in the error that a differently sized network gets). The target gets copies, never the source's buffers:
  JAX's jitted step donates every variable's buffer, and one buffer donated twice fails."""
  from keras import ops
  if len(source.weights) != len(target.weights):
    raise ValueError(f"{where}: a network of {len(source.weights)} weights, this run's has {len(target.weights)}")
  for from_weight, to_weight in zip(source.weights, target.weights):
    if tuple(from_weight.shape) != tuple(to_weight.shape):
      raise ValueError(f"{where}: {from_weight.path} is {tuple(from_weight.shape)}, this run's "
                       f"{to_weight.path} is {tuple(to_weight.shape)}: the networks differ (compare flags.txt)")
    to_weight.assign(ops.copy(from_weight.value))


def load_networks(run_dir, checkpoint=None, precision=None):
  """(teacher, student, run_flags) restored from a run's checkpoint (the latest unless `checkpoint` names one).

  A run without a teacher of its own (`has_teacher`) trained a single model, the student: its `teacher` is that
  student.
  Runs of either backend load under either backend (tsal_tf.checkpoints). `precision` replaces the run's
  compute precision (the weights are float32 under every precision).
  """
  from tsal_tf import checkpoints
  from tsal_tf.model import network
  run_flags = read_run_flags(run_dir)
  single_model = not has_teacher(run_flags)
  config = network_config_from(run_flags)
  if precision is not None:
    config = dataclasses.replace(config, precision=precision)
  path = checkpoint or checkpoints.latest_checkpoint(os.path.join(run_dir, "checkpoints"))
  if path is None:
    raise FileNotFoundError(f"{run_dir}: no checkpoints/ckpt-<step>.npz to load (has the run trained a step?)")
  student = network.build_network(config, "student")
  teacher = student if single_model else network.build_network(config, "teacher")
  groups = {"student": student.weights} if single_model else {"student": student.weights, "teacher": teacher.weights}
  checkpoints.restore(path, groups)
  return teacher, student, run_flags
