"""Throughput (jaxgen/runtime/throughput.py): the peak table, MFU arithmetic, XLA's FLOP count of
a compiled step (per device), and the images/s, TFLOP/s and MFU of every training log line."""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from jaxgen.runtime import loop
from jaxgen.runtime import throughput
from tests.conftest import tiny_config

# ------------------------------------------------------------------------------ peaks and MFU


@pytest.mark.parametrize('kind,dtype,tflops,basis', [
    ('NVIDIA H200', 'bfloat16', 989.4, 'bf16'),
    ('NVIDIA H200', 'float32', 494.7, 'tf32'),
    ('NVIDIA H200 NVL', 'bfloat16', 835.5, 'bf16'),
    ('NVIDIA H100 80GB HBM3', 'bfloat16', 989.4, 'bf16'),
    ('NVIDIA H100 PCIe', 'bfloat16', 756.5, 'bf16'),
    ('NVIDIA A100-SXM4-80GB', 'float32', 156.0, 'tf32'),
    ('NVIDIA L4', 'bfloat16', 121.0, 'bf16'),
    ('NVIDIA L40S', 'bfloat16', 362.05, 'bf16'),
    ('TPU v4', 'bfloat16', 275.0, 'bf16'),
    ('TPU v5 lite', 'bfloat16', 197.0, 'bf16'),
    ('TPU v5', 'bfloat16', 459.0, 'bf16'),
    ('TPU v5p', 'bfloat16', 459.0, 'bf16'),
    ('TPU v6 lite', 'bfloat16', 918.0, 'bf16'),
])
def test_peak_of_known_device_kinds(kind, dtype, tflops, basis):
  p = throughput.peak_flops(kind, dtype)
  assert p['peak_flops'] == pytest.approx(tflops * 1e12)
  assert p['peak_basis'].startswith(basis)
  assert p['peak_source']


def test_peak_fp32_highest_precision_uses_the_non_tensor_rate():
  p = throughput.peak_flops('NVIDIA H200', 'float32', 'highest')
  assert p['peak_flops'] == pytest.approx(66.9e12) and 'SIMT' in p['peak_basis']
  assert throughput.peak_flops('NVIDIA H200', 'float32')['peak_flops_fp32_simt'] == (
      pytest.approx(66.9e12))


@pytest.mark.parametrize('kind,dtype', [('cpu', 'float32'), ('Tesla V100-SXM2-16GB', 'bfloat16'),
                                        ('', 'bfloat16'), ('TPU v4', 'float32')])
def test_unknown_peak_omits_mfu_with_a_note(kind, dtype):
  u = throughput.mfu(1e12, 2.0, kind, dtype)
  assert u['mfu'] is None and u['peak_flops'] is None
  assert u['note'].startswith('MFU omitted')
  assert u['achieved_flops'] == pytest.approx(2e12)


def test_every_peak_entry_has_a_source_and_the_h200_matches_the_datasheet():
  for pattern, name, bf16, tf32, fp32, source in throughput.PEAKS:
    assert source and name and bf16 > 0
  assert throughput.peak_flops('NVIDIA H200', 'bf16')['peak_device'] == 'NVIDIA H200 (SXM)'


def test_mfu_arithmetic():
  u = throughput.mfu(2.0e12, 100.0, 'NVIDIA H200', 'bfloat16')
  assert u['achieved_flops'] == pytest.approx(2.0e14)
  assert u['mfu'] == pytest.approx(2.0e14 / 989.4e12)
  f32 = throughput.mfu(2.0e12, 100.0, 'NVIDIA H200', 'float32')
  assert f32['mfu'] == pytest.approx(2.0e14 / 494.7e12)
  assert f32['mfu_vs_fp32_simt'] == pytest.approx(2.0e14 / 66.9e12)
  none = throughput.mfu(None, 100.0, 'NVIDIA H200', 'bfloat16')
  assert none['mfu'] is None and 'no FLOP count' in none['note']


def test_xla_flops_reads_a_cost_analysis():
  assert throughput.xla_flops([{'flops': 7.0}]) == 7.0
  assert throughput.xla_flops(None) is None and throughput.xla_flops({}) is None
  assert throughput.xla_flops({'flops': -1.0}) is None


# ------------------------------------------------------------------------------ FLOPs of a step


def test_flops_of_a_known_matmul_are_2mnk():
  """XLA's cost analysis of a compiled [m, k] @ [k, n] counts 2 m n k FLOPs, exactly."""
  m, k, n = 32, 48, 40
  f = jax.jit(lambda a, b: a @ b)
  assert throughput.step_flops(f, jnp.ones((m, k)), jnp.ones((k, n))) == 2 * m * n * k


def test_flops_are_per_device_under_a_mesh():
  """The same matmul with its rows split over 8 devices: each device's program does 1/8 of it."""
  m, k, n = 64, 48, 40
  mesh = Mesh(np.array(jax.devices()[:8]), ('data',))
  f = jax.jit(lambda a, b: a @ b, in_shardings=(NamedSharding(mesh, P('data')),
                                                NamedSharding(mesh, P())))
  assert throughput.step_flops(f, jnp.ones((m, k)), jnp.ones((k, n))) == 2 * m * n * k / 8


class _Device:
  def __init__(self, kind):
    self.device_kind = kind


def test_meter_rates():
  """images/s = batch x steps/s; TFLOP/s = per-device FLOPs x devices x steps/s (global); MFU =
  per-device FLOPs x steps/s / the device's peak; without a FLOP count both are None."""
  meter = throughput.Meter(256, 'bfloat16', [_Device('NVIDIA H100 80GB HBM3')] * 4)
  assert meter.rates(10.0) == {'images_per_sec': 2560.0, 'tflops_per_sec': None, 'mfu': None}
  meter.flops = 3e12
  r = meter.rates(10.0)
  assert r['tflops_per_sec'] == pytest.approx(3e12 * 4 * 10 / 1e12)
  assert r['mfu'] == pytest.approx(3e13 / 989.4e12)
  cpu = throughput.Meter(8, 'float32', [_Device('cpu')])
  cpu.flops = 1e9
  assert cpu.rates(2.0)['mfu'] is None and cpu.rates(2.0)['tflops_per_sec'] == 2e-3


def test_every_training_log_line_carries_its_throughput(tmp_path):
  """A tiny run on the CPU devices: each training line has images_per_sec = batch x steps/s,
  tflops_per_sec = XLA's per-device FLOPs x devices x steps/s, and mfu null (no CPU peak)."""
  config = tiny_config()
  loop.train(config, str(tmp_path))
  lines = [json.loads(line) for line in open(tmp_path / 'metrics.jsonl')]
  train = [line for line in lines if 'loss' in line]
  assert [line['step'] for line in train] == [3, 6]
  assert '"mfu": null' in (tmp_path / 'metrics.jsonl').read_text()
  for line in train:
    assert line['mfu'] is None
    assert line['images_per_sec'] == pytest.approx(config.train.batch_size * line['steps_per_sec'])
    assert line['tflops_per_sec'] > 0 and math.isfinite(line['tflops_per_sec'])
  # the same ratio for both lines: FLOPs per step = TFLOP/s / steps/s, a constant of the run
  per_step = [line['tflops_per_sec'] / line['steps_per_sec'] for line in train]
  assert per_step[0] == pytest.approx(per_step[1])
