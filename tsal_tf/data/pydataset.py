"""keras.utils.PyDataset over a NumPy source (the JAX backend; TensorFlow uses pipelines.make_dataset).

The same stream of examples as pipelines.make_dataset: data epoch e is the permutation of all n examples drawn
from (seed, e), example j of it is drawn with augmentation seed seed + e, and batch b holds stream positions
b * B ... b * B + B - 1. So a run sees the same batches under either backend, and `start_batch` resumes it
exactly.
"""

import functools

import numpy as np
import keras


class SourceBatches(keras.utils.PyDataset):
  """`batches_per_epoch` batches of a `sources.Source`: item i is global batch start_batch + i.

  The training driver fits one epoch per SourceBatches. (Keras calls `on_epoch_end` also outside the epochs
  it trains, so the position in the stream is never kept in mutable state.)
  """

  def __init__(self, source, batch_size, batches_per_epoch, seed=0, start_batch=0, workers=4, processes=False):
    # Items depend on their index alone, so worker threads and worker processes (processes=True) give the
    # same batches. Keras keeps at most max_queue_size batches in flight: two per worker keep every worker busy
    # (its default, 10, idles all workers beyond the tenth).
    super().__init__(workers=workers, use_multiprocessing=processes, max_queue_size=max(10, 2 * workers))
    if len(source) == 0:
      raise ValueError(f"{type(source).__name__} is empty: no examples to train on")
    self.source, self.batch_size, self.batches_per_epoch, self.seed = source, batch_size, batches_per_epoch, seed
    self.start_batch = start_batch

  def __len__(self):
    return self.batches_per_epoch

  @functools.lru_cache(maxsize=4)
  def _order(self, data_epoch):
    return np.random.default_rng([self.seed, data_epoch]).permutation(len(self.source))

  def __getitem__(self, index):
    n = len(self.source)
    start = (self.start_batch + index) * self.batch_size
    examples = []
    for position in range(start, start + self.batch_size):
      data_epoch, i = divmod(position, n)
      examples.append(self.source.example(int(self._order(data_epoch)[i]), self.seed + data_epoch))
    return {key: np.stack([e[key] for e in examples]) for key in examples[0]}
