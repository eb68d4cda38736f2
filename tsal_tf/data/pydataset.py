"""keras.utils.PyDataset over a NumPy source (the JAX path; the TF path uses pipelines.make_dataset).

Batch i of epoch e holds examples perm_e[(i * B + k) mod n], k < B, with perm_e a permutation drawn from
(seed, e); example j uses augmentation seed seed + e, as in pipelines.make_dataset.
"""

import numpy as np
import keras


class SourceBatches(keras.utils.PyDataset):

  def __init__(self, source, batch_size, steps_per_epoch, seed=0, workers=4, use_multiprocessing=False):
    super().__init__(workers=workers, use_multiprocessing=use_multiprocessing)
    if len(source) == 0:
      raise ValueError(f"{type(source).__name__} is empty: no examples to train on")
    self.source, self.batch_size, self.steps, self.seed = source, batch_size, steps_per_epoch, seed
    self.epoch = 0

  def __len__(self):
    return self.steps

  def __getitem__(self, index):
    order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.source))
    picks = [order[(index * self.batch_size + k) % len(order)] for k in range(self.batch_size)]
    examples = [self.source.example(int(i), self.seed + self.epoch) for i in picks]
    return {key: np.stack([e[key] for e in examples]) for key in examples[0]}

  def on_epoch_end(self):
    self.epoch += 1
