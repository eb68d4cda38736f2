"""The exceptions that end a training run, free of Keras so that the command-line layer (`cli`, `train.main`)
can catch them before a backend is chosen."""


class TrainingDivergedError(RuntimeError):
  """A loss term became NaN/Inf; the message names the step and the term."""


class TrainingInterrupted(Exception):
  """SIGINT or SIGTERM (`signum`) stopped training after a step that was saved as a checkpoint."""

  def __init__(self, message, signum):
    super().__init__(message)
    self.signum = signum
