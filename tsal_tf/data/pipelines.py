"""tf.data wrapping of the NumPy sources (TF path); the JAX path uses `PyDatasetAdapter` instead.

`make_dataset(source, batch_size, ...)` yields dicts of batched tensors with the same keys, dtypes and
shapes as `source.example(...)`. Each epoch reshuffles and draws new augmentation: example i of epoch e
draws its augmentation from (seed + e, i), so runs are reproducible and resume exactly (`start_batch`).
"""

import numpy as np
import tensorflow as tf


def _signature(source):
  example = source.example(0, 0)
  return {k: tf.TensorSpec(np.shape(v), tf.as_dtype(np.asarray(v).dtype)) for k, v in example.items()}


def make_dataset(source, batch_size, shuffle=True, repeat=True, seed=0, num_parallel_calls=None,
                 drop_remainder=True, start_batch=0):
  """A tf.data.Dataset of batched examples from a `sources.Source`.

  Args:
    source: a sources.Source.
    batch_size: examples per batch.
    shuffle: reshuffle every epoch.
    repeat: repeat forever (training); else one pass.
    seed: base seed; epoch e uses seed + e for augmentation.
    num_parallel_calls: parallel workers (default tf.data.AUTOTUNE).
    drop_remainder: drop a last partial batch (training).
    start_batch: skip this many batches (cheaply: before any example is loaded), so a resumed run sees
      exactly the batches an uninterrupted run would have seen.
  """
  if len(source) == 0:
    raise ValueError(f"{type(source).__name__} is empty: no examples to build a dataset from")
  signature = _signature(source)
  keys = list(signature)

  def load(index, epoch):
    example = source.example(int(index), seed + int(epoch))
    return [np.asarray(example[k], dtype=signature[k].dtype.as_numpy_dtype) for k in keys]

  def load_tf(index, epoch):
    values = tf.numpy_function(load, [index, epoch], [signature[k].dtype for k in keys], stateful=False)
    return {k: tf.ensure_shape(v, signature[k].shape) for k, v in zip(keys, values)}

  epochs = tf.data.Dataset.range(1 << 31) if repeat else tf.data.Dataset.range(1)
  n = len(source)

  def epoch_indices(epoch):
    if shuffle:
      order = tf.numpy_function(lambda e: np.random.default_rng([seed, int(e)]).permutation(n), [epoch],
                                tf.int64, stateful=False)
    else:
      order = tf.range(n, dtype=tf.int64)
    return tf.data.Dataset.from_tensor_slices(order).map(lambda i: (i, epoch))

  dataset = epochs.flat_map(epoch_indices).skip(start_batch * batch_size)
  dataset = dataset.map(load_tf, num_parallel_calls=num_parallel_calls or tf.data.AUTOTUNE,
                        deterministic=True)
  return dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
