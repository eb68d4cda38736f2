"""--precision=auto: bfloat16 only where the hardware multiplies it natively."""

import logging

import numpy as np
import pytest

from tsal_tf import hardware
from tsal_tf.model import backbone
from tsal_tf.model.config import NetworkConfig

AMD_AVX2 = ("processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx avx2 fma\n\n"
            "processor\t: 1\nmodel name\t: Other\nflags\t\t: fpu avx512_bf16\n")
INTEL_AMX = "processor\t: 0\nmodel name\t: Intel Xeon\nflags\t\t: avx2 avx512f amx_bf16 amx_tile\n"
ZEN4 = "processor\t: 0\nmodel name\t: AMD EPYC 9004\nflags\t\t: avx2 avx512f avx512_bf16\n"


def _cpuinfo(tmp_path, text):
  path = tmp_path / "cpuinfo"
  path.write_text(text)
  return str(path)


def test_cpu_info_reads_the_first_processor(tmp_path):
  model, cpu_flags = hardware.cpu_info(_cpuinfo(tmp_path, AMD_AVX2))
  assert model == "AMD EPYC" and cpu_flags == {"fpu", "sse2", "avx", "avx2", "fma"}
  assert hardware.cpu_info(str(tmp_path / "missing")) == ("unknown", frozenset())


@pytest.mark.parametrize("text,accelerator,expected", [
    (AMD_AVX2, False, "float32"),
    (INTEL_AMX, False, "bfloat16"),
    (ZEN4, False, "bfloat16"),
    (AMD_AVX2, True, "bfloat16"),
])
def test_auto_picks_bfloat16_only_where_native(tmp_path, text, accelerator, expected):
  cpu_flags = hardware.cpu_info(_cpuinfo(tmp_path, text))[1]
  assert hardware.resolve_precision("auto", cpu_flags, accelerator) == expected
  assert hardware.resolve_precision("float32", cpu_flags, accelerator) == "float32"


def test_explicit_bfloat16_is_kept_with_a_warning_where_emulated(tmp_path, caplog):
  hardware._warn_emulated_bfloat16.cache_clear()
  cpu_flags = hardware.cpu_info(_cpuinfo(tmp_path, AMD_AVX2))[1]
  with caplog.at_level(logging.WARNING):
    assert hardware.resolve_precision("bfloat16", cpu_flags, False) == "bfloat16"
  assert "emulated" in caplog.text
  caplog.clear()
  hardware._warn_emulated_bfloat16.cache_clear()
  with caplog.at_level(logging.WARNING):
    assert hardware.resolve_precision("bfloat16", hardware.cpu_info(_cpuinfo(tmp_path, INTEL_AMX))[1], False)
  assert "emulated" not in caplog.text
  with pytest.raises(ValueError, match="'float16'"):
    hardware.resolve_precision("float16", cpu_flags, False)


@pytest.mark.parametrize("text,compute_dtype", [(AMD_AVX2, "float32"), (INTEL_AMX, "bfloat16")])
def test_network_built_with_auto_follows_the_machine(tmp_path, monkeypatch, text, compute_dtype):
  path, read = _cpuinfo(tmp_path, text), hardware.cpu_info
  monkeypatch.setattr(hardware, "cpu_info", lambda: read(path))
  monkeypatch.setattr(hardware, "has_accelerator", lambda: False)
  config = NetworkConfig(input_size=32, widths=(8, 16), head_width=8, precision="auto")
  net = backbone.build_landmark_network(config)
  assert net.get_layer("stem_conv").compute_dtype == compute_dtype
  assert net.get_layer("heatmaps").compute_dtype == "float32"  # the output convs stay float32 either way


def test_describe_names_cpu_cores_and_bfloat16(tmp_path, monkeypatch):
  path, read = _cpuinfo(tmp_path, AMD_AVX2), hardware.cpu_info
  monkeypatch.setattr(hardware, "cpu_info", lambda: read(path))
  monkeypatch.setattr(hardware, "has_accelerator", lambda: False)
  monkeypatch.setattr(hardware.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
  assert hardware.describe() == "AMD EPYC, 2 cores, no native bfloat16"
  monkeypatch.setattr(hardware, "has_accelerator", lambda: True)
  assert hardware.describe() == "AMD EPYC, 2 cores, GPU, native bfloat16"


def test_loading_a_run_can_replace_its_precision(tmp_path):
  from tsal_tf import checkpoints, runs
  from tsal_tf.model import network
  config = NetworkConfig(input_size=32, widths=(8, 16), head_width=8, flow_widths=(8, 16), flow_scales=2,
                         precision="bfloat16")
  trained = network.build_network(config, "student")
  (tmp_path / "flags.txt").write_text("--input_size=32\n--heatmap_stride=2\n--widths=8,16\n--head_width=8\n"
                                      "--flow_widths=8,16\n--flow_scales=2\n--precision=bfloat16\n--noasync_learning\n")
  checkpoints.save(str(tmp_path / "checkpoints" / "ckpt-1.npz"), {"student": trained.weights})
  for precision, compute_dtype in ((None, "bfloat16"), ("float32", "float32")):
    _, student, _ = runs.load_networks(str(tmp_path), precision=precision)
    assert student.landmark_net.get_layer("stem_conv").compute_dtype == compute_dtype
    for loaded, saved in zip(student.weights, trained.weights):  # the same float32 weights either way
      np.testing.assert_array_equal(loaded.numpy(), saved.numpy())
