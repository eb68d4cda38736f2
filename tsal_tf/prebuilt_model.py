"""A keras.Model that builds everything itself, for the project's custom fit() loops (TeacherStudent,
motion_pretrain.MotionPretrainer)."""

import keras


class PrebuiltModel(keras.Model):
  """A model whose networks are built in __init__ (which must set `self.built = True`) and whose optimizer is
  built in compile().

  fit() then skips Keras' symbolic build, which would pull a batch and reduce it with strategy.reduce("MEAN",
  ...) on the whole structure: that fails under MultiWorkerMirroredStrategy (keras-team/keras#20585). Private
  API; Keras pinned to 3.15.1.
  """

  def compile(self, optimizer, **kwargs):
    super().compile(optimizer=optimizer, **kwargs)
    self.optimizer.build(self.trainable_variables)

  def _maybe_symbolic_build(self, iterator=None, data_batch=None):
    return
