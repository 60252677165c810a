"""Bits per dimension from per-example log-likelihoods in nats.

For a discrete model (``discrete=True``) the log-likelihood is a log-probability mass:
``bpd = -log P(x) / (D ln 2)``.

For a continuous density over dequantized data, each of the K integer levels owns a bin of width
``w = (high - low) / K`` in the model's data space (data in [0,1]: w = 1/K; in [-1,1]: w = 2/K), so
``log P(x_int) >= log p(x) + D log w`` and

    bpd = -log p(x) / (D ln 2) - log2(w) = -log p(x) / (D ln 2) + log2(K / (high - low)).

For 8-bit data the offset is 8 bits on [0,1] and 7 bits on [-1,1] (score_sde's convention).
NICE's MNIST figure: 8 - 1980.50 / (784 ln 2) = 4.36 bits/dim.
"""

from __future__ import annotations

import math


def offset_bits(spec) -> float:
  """log2(K / (high - low)): the per-dimension term that turns a density into a bin mass."""
  if spec.num_levels is None:
    return 0.0
  return math.log2(spec.num_levels / (spec.high - spec.low))


def bits_per_dim(log_prob_nats, spec, discrete: bool):
  """Per-example bits/dim (array in, array out) for data described by `spec` (a DataSpec)."""
  d = spec.dim
  bpd = -log_prob_nats / (d * math.log(2.0))
  if not discrete:
    bpd = bpd + offset_bits(spec)
  return bpd


def nats_to_bpd(nats_per_example: float, dim: int, bins_per_unit: float) -> float:
  """The papers' conversion: bpd = log2(K) - LL / (D ln 2), K bins per unit of the data space."""
  return math.log2(bins_per_unit) - nats_per_example / (dim * math.log(2.0))
