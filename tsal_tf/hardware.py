"""What this machine computes fast: the `--precision=auto` rule and a one-line description for reports.

bfloat16 pays only where the hardware multiplies it natively: an accelerator, or a CPU with AMX-BF16 or
AVX512-BF16. On other CPUs (AVX2 only, e.g. many AMD EPYC and older Intel parts) every bfloat16 op is
converted in software, and the default network's step is several times slower than in float32
(results/core.md, section 7). `resolve_precision("auto")` picks bfloat16 where it is native and float32
elsewhere; an explicit `bfloat16` on such a CPU is kept, with a warning. Linux only: elsewhere (no
/proc/cpuinfo) auto picks float32 on a CPU. The timings behind the rule are TensorFlow's (oneDNN); XLA's CPU
bfloat16 under KERAS_BACKEND=jax is unmeasured.
"""

import functools
import os

from absl import logging

PRECISIONS = ("float32", "bfloat16", "auto")
NATIVE_BFLOAT16_CPU_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})


def cpu_info(path="/proc/cpuinfo"):
  """(model name, set of feature flags) of the first processor in a Linux cpuinfo file; ("unknown", empty set)
  where there is none (macOS, Windows)."""
  model, cpu_flags = "unknown", set()
  if not os.path.isfile(path):
    return model, frozenset(cpu_flags)
  with open(path, encoding="utf-8", errors="replace") as f:
    for line in f:
      key, _, value = line.partition(":")
      key = key.strip()
      if key == "model name" and model == "unknown":
        model = value.strip()
      elif key == "flags" and not cpu_flags:
        cpu_flags = set(value.split())
      if model != "unknown" and cpu_flags:
        break
  return model, frozenset(cpu_flags)


@functools.lru_cache(maxsize=1)
def has_accelerator():
  """True when the Keras backend sees a GPU or TPU."""
  import keras
  if keras.backend.backend() == "jax":
    import jax
    return jax.default_backend() != "cpu"
  import tensorflow as tf
  return bool(tf.config.list_physical_devices("GPU") or tf.config.list_physical_devices("TPU"))


def native_bfloat16(cpu_flags, accelerator):
  """Whether bfloat16 matrix products run in hardware: on an accelerator, or a CPU with AMX-BF16 / AVX512-BF16."""
  return bool(accelerator or NATIVE_BFLOAT16_CPU_FLAGS & set(cpu_flags))


def resolve_precision(requested, cpu_flags=None, accelerator=None):
  """The compute precision to build with: "float32" or "bfloat16".

  "auto" -> bfloat16 where it is native (`native_bfloat16`), float32 elsewhere; "float32" / "bfloat16" are
  kept as asked (bfloat16 without native support logs a warning once). cpu_flags / accelerator default to this
  machine's.
  """
  if requested not in PRECISIONS:
    raise ValueError(f"precision {requested!r}: not one of {', '.join(PRECISIONS)}")
  if requested == "float32":
    return requested
  native = native_bfloat16(cpu_info()[1] if cpu_flags is None else cpu_flags,
                           has_accelerator() if accelerator is None else accelerator)
  if requested == "auto":
    return "bfloat16" if native else "float32"
  if not native:
    _warn_emulated_bfloat16()
  return requested


@functools.lru_cache(maxsize=1)
def _warn_emulated_bfloat16():
  logging.warning("precision bfloat16 on a CPU without AMX-BF16 / AVX512-BF16 (%s): bfloat16 is emulated there "
                  "and training is several times slower than float32; --precision=auto picks float32 here",
                  cpu_info()[0])


def describe():
  """'AMD EPYC, 2 cores, no native bfloat16' (the machine line of benchmark reports; ', GPU' with one): on such a
  machine --precision=auto trains in float32."""
  model, cpu_flags = cpu_info()
  accelerator = has_accelerator()
  cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
  return (f"{model}, {cores} cores{', GPU' if accelerator else ''}, "
          f"{'' if native_bfloat16(cpu_flags, accelerator) else 'no '}native bfloat16")
