"""Throughput of a training step: XLA's FLOP count, images/s, TFLOP/s and model FLOPs utilisation.

FLOPs per step (`step_flops`): the jitted step is lowered and compiled for its arguments (JAX
keeps the executable, so the step's first call reuses it) and XLA's cost analysis of the compiled
program is read: every floating-point operation of the step as XLA counts them (a matmul
``2 m n k``, an elementwise op one per element) -- forward, backward, optimizer update and EMA,
whatever the jitted function does -- for ONE device: under a mesh the compiled program is one
device's partition, so the global count is that times the number of devices. Work inside custom
calls XLA cannot look into (a fused cuDNN attention kernel) is counted as XLA's analysis counts
it, possibly not at all.

Rates (`Meter.rates`, from the steps/s the training loop already measures): ``images_per_sec`` =
global batch x steps/s; ``tflops_per_sec`` = per-device FLOPs x devices x steps/s / 1e12 (global);
``mfu`` = per-device FLOPs x steps/s / the device's peak (None where no peak is known: the CPU,
an unknown device kind, float32 on a TPU). The peak's basis is the compute dtype: bf16 / fp16 ->
the dense bf16 tensor-core (matrix-unit) rate; float32 on a GPU -> the TF32 tensor-core rate
(JAX's default matmul precision lets XLA use TF32), or the non-tensor fp32 rate at 'highest'.

Importing this module imports no JAX (benchmarks/accelerator_suite.py reads the table from
interpreters that may have only torch).
"""

from __future__ import annotations

import math
import re
from typing import Optional

# Dense (no structured sparsity) peak FLOP/s per JAX device, in TFLOP/s: (pattern matched against
# the lower-cased `device.device_kind`, first match wins; name; bf16; tf32; fp32; source).
# NVIDIA datasheets quote tensor-core rates "with sparsity": the dense rate is half of that.
# tf32 = fp32 matmuls/convolutions on tensor cores, which JAX's default precision allows on
# Ampere and newer GPUs; fp32 = the non-tensor-core (SIMT) rate. TPUs publish a bf16 rate only.
_H100 = 'NVIDIA H100 datasheet (nvidia.com/en-us/data-center/h100), sparse figures halved'
_H200 = 'NVIDIA H200 datasheet (nvidia.com/en-us/data-center/h200), sparse figures halved'
PEAKS = (
    (r'h200.*nvl', 'NVIDIA H200 NVL', 835.5, 417.5, 60.0, _H200),
    (r'h200', 'NVIDIA H200 (SXM)', 989.4, 494.7, 66.9, _H200),
    (r'h100.*nvl', 'NVIDIA H100 NVL', 835.5, 417.5, 60.0, _H100),
    (r'h100.*pcie', 'NVIDIA H100 PCIe', 756.5, 378.0, 51.0, _H100),
    (r'h100', 'NVIDIA H100 (SXM)', 989.4, 494.7, 66.9, _H100),
    (r'a100', 'NVIDIA A100', 312.0, 156.0, 19.5,
     'NVIDIA A100 datasheet (nvidia.com/en-us/data-center/a100), sparse figures halved'),
    (r'l40s', 'NVIDIA L40S', 362.05, 183.0, 91.6,
     'NVIDIA L40S datasheet (nvidia.com/en-us/data-center/l40s), sparse figures halved'),
    (r'\bl4\b', 'NVIDIA L4', 121.0, 60.0, 30.3,
     'NVIDIA L4 datasheet (nvidia.com/en-us/data-center/l4), sparse figures halved'),
    (r'tpu v6( lite|e)', 'TPU v6e (Trillium), per chip', 918.0, None, None,
     'cloud.google.com/tpu/docs/v6e'),
    (r'tpu v5( lite|e)', 'TPU v5e, per chip', 197.0, None, None, 'cloud.google.com/tpu/docs/v5e'),
    (r'tpu v5', 'TPU v5p, per chip', 459.0, None, None, 'cloud.google.com/tpu/docs/v5p'),
    (r'tpu v4', 'TPU v4, per chip (one JAX device: megacore)', 275.0, None, None,
     'cloud.google.com/tpu/docs/v4'),
    (r'tpu v3', 'TPU v3, per core (one JAX device; 123 per chip)', 61.5, None, None,
     'cloud.google.com/tpu/docs/v3'),
    (r'tpu v2', 'TPU v2, per core (one JAX device; 45 per chip)', 22.5, None, None,
     'cloud.google.com/tpu/docs/v2'),
)


def peak_flops(device_kind: str, dtype: str, matmul_precision: Optional[str] = None) -> dict:
  """The peak FLOP/s of one device of `device_kind` for compute in `dtype`.

  Returns ``{'peak_flops', 'peak_basis', 'peak_source', 'peak_device'}``, with ``peak_flops`` None
  and a ``note`` when no peak is known (an unknown device kind, the CPU, fp32 on a TPU). float32
  on a GPU uses the TF32 tensor-core rate unless ``matmul_precision`` is 'highest' / 'float32';
  the non-tensor rate is added as ``peak_flops_fp32_simt``.
  """
  kind = (device_kind or '').lower()
  for pattern, name, bf16, tf32, fp32, source in PEAKS:
    if re.search(pattern, kind):
      break
  else:
    return dict(peak_flops=None, peak_basis=None, peak_source=None, peak_device=None,
                note=f'MFU omitted: no peak FLOP/s known for device kind {device_kind!r} '
                '(jaxgen/runtime/throughput.py PEAKS)')
  out = dict(peak_device=name, peak_source=source)
  if dtype in ('bfloat16', 'bf16', 'float16'):
    return dict(out, peak_flops=bf16 * 1e12, peak_basis='bf16 dense tensor/matrix units')
  if dtype in ('float32', 'fp32'):
    if tf32 is None:
      return dict(out, peak_flops=None, peak_basis=None,
                  note=f'MFU omitted: {name} publishes no float32 matrix peak (XLA runs fp32 '
                  'matmuls there as bf16 passes at the default precision)')
    simt = dict(peak_flops_fp32_simt=fp32 * 1e12)
    if matmul_precision in ('highest', 'float32', 'fp32'):
      return dict(out, **simt, peak_flops=fp32 * 1e12, peak_basis='fp32 non-tensor (SIMT)')
    return dict(out, **simt, peak_flops=tf32 * 1e12,
                peak_basis='tf32 dense tensor cores (fp32 at JAX default precision)')
  return dict(out, peak_flops=None, peak_basis=None, note=f'MFU omitted: no peak for {dtype}')


def mfu(flops_per_step: Optional[float], steps_per_s: float, device_kind: str, dtype: str,
        matmul_precision: Optional[str] = None) -> dict:
  """Model FLOPs utilisation of one device: ``flops_per_step * steps_per_s / peak``; the peak's
  fields; the achieved FLOP/s. ``mfu`` is None (with a ``note``) when the FLOPs or the peak are
  unknown."""
  peak = peak_flops(device_kind, dtype, matmul_precision)
  out = dict(peak)
  if not flops_per_step or not math.isfinite(flops_per_step):
    out.update(mfu=None, achieved_flops=None, note='MFU omitted: XLA reported no FLOP count')
    return out
  achieved = flops_per_step * steps_per_s
  out['achieved_flops'] = achieved
  out['mfu'] = achieved / peak['peak_flops'] if peak['peak_flops'] else None
  if peak.get('peak_flops_fp32_simt'):
    out['mfu_vs_fp32_simt'] = achieved / peak['peak_flops_fp32_simt']
  return out


def xla_flops(cost) -> Optional[float]:
  """The 'flops' entry of a `cost_analysis()` result (a dict, or a list of one dict per program
  in older jax), or None."""
  if cost is None:
    return None
  if isinstance(cost, (list, tuple)):
    cost = cost[0] if cost else None
  if not cost:
    return None
  value = cost.get('flops')
  return float(value) if value is not None and float(value) > 0 else None


def step_flops(jitted, *args) -> Optional[float]:
  """XLA's FLOPs of ``jitted(*args)`` on one device (module docstring), or None where the
  backend reports none. Compiles the step once; its first call then reuses the executable."""
  try:
    return xla_flops(jitted.lower(*args).compile().cost_analysis())
  except NotImplementedError:  # a backend without a cost model
    return None


class Meter:
  """The throughput a training loop logs: ``measure`` once (the step's FLOPs, at compile), then
  ``rates(steps_per_sec)`` at each log step (arithmetic only: no device work).

  Args: the global batch size, the compute dtype (the network's ``dtype``: the peak's basis) and
  the devices of the mesh (their kind picks the peak; their number scales the global TFLOP/s).
  """

  def __init__(self, batch_size: int, dtype: str, devices):
    import jax

    devices = list(devices)
    self.batch_size, self.num_devices = int(batch_size), len(devices)
    self.peak = peak_flops(devices[0].device_kind, dtype,
                           jax.config.jax_default_matmul_precision)['peak_flops']
    self.flops: Optional[float] = None   # per device and step

  def measure(self, jitted, *args) -> Optional[float]:
    self.flops = step_flops(jitted, *args)
    return self.flops

  def rates(self, steps_per_sec: float) -> dict:
    """``images_per_sec``, ``tflops_per_sec`` (global) and ``mfu`` (None where unknown)."""
    per_device = None if self.flops is None else self.flops * steps_per_sec
    return {'images_per_sec': self.batch_size * steps_per_sec,
            'tflops_per_sec': (None if per_device is None
                               else per_device * self.num_devices / 1e12),
            'mfu': per_device / self.peak if per_device is not None and self.peak else None}
