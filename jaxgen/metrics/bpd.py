"""Bits per dimension from per-example log-likelihoods in nats: the one definition every family
and the evaluator use.

Discrete families (``discrete=True``, e.g. PixelCNN) give the log-probability mass of the integer
data exactly: ``bpd = -log P(k) / (D ln 2)``.

Continuous families (score SDE, rectified flow, NICE) give a log-*density* ``log p(x)`` of data
scaled from K integer levels k in {0..K-1} to ``[low, high]``. Their bits/dim are defined only on
**uniformly dequantized** data,

    x = low + (high - low) (k + u) / K,    u ~ U[0, 1)^D    (offset convention: k + u, not the
                                                              centred k + 0.5),

so each level owns a bin of width ``w = (high - low) / K`` (1/K on [0, 1], 2/K on [-1, 1]) and,
by Jensen, ``log P(k) >= E_u[log p(x)] + D log w``. The reported figure is that bound, averaged
over ``eval.dequant_draws`` independent draws of u (each draw re-dequantizes the data):

    bpd = -(log p(x) + D log((high - low) / K)) / (D ln 2)
        = -log p(x) / (D ln 2) + log2(K / (high - low)).

The same model expressed on another affine scale gives the same bpd (the Jacobian D log of the
scale factor moves between log p and the offset). For 8-bit data the offset is 8 bits on [0, 1]
and 7 on [-1, 1] (score_sde's convention), log2(17) for 17-level digits on [0, 1]; a uniform
density scores exactly log2(K).

A density evaluated on *non*-dequantized data (the grid points k / (K - 1)) is no bound on any
discrete likelihood, and continuous data (toy2d, ``num_levels`` None) have no bins: both are
refused (`check`, `bits_per_dim`); report ``nll`` there.

`spec` is a data description with ``dim``, ``low``, ``high``, ``num_levels`` (None: continuous
data) and ``dequantized`` (`jaxgen.data.DataSpec`).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional

import jax
import jax.numpy as jnp


def problem(spec, discrete: bool) -> Optional[str]:
  """Why bits/dim of a model (``discrete`` or not) on data `spec` is undefined, or None."""
  if discrete:
    return None
  if spec.num_levels is None:
    return (f'{spec.name} is continuous data (no integer levels, no bins): bits/dim is '
            "undefined; report 'nll' (nats per example) instead")
  if not spec.dequantized:
    return (f'{spec.name} has {spec.num_levels} integer levels but is not dequantized: the '
            'density of grid points is no bound on the discrete likelihood')
  return None


def offset_bits(spec) -> float:
  """log2(K / (high - low)): the per-dimension term that turns a density into a bin mass."""
  if spec.num_levels is None:
    return 0.0
  return math.log2(spec.num_levels / (spec.high - spec.low))


def bits_per_dim(log_prob_nats, spec, discrete: bool):
  """Per-example bits/dim (array in, array out; numpy or traced) for data described by `spec`
  (see the module docstring); ValueError where bits/dim is undefined (`problem`)."""
  why = problem(spec, discrete)
  if why is not None:
    raise ValueError(why)
  bpd = -log_prob_nats / (spec.dim * math.log(2.0))
  if not discrete:
    bpd = bpd + offset_bits(spec)
  return bpd


def integer_levels(x: jax.Array, spec) -> jax.Array:
  """The integer levels 0..K-1 of data produced by `jaxgen.data`'s transforms: ``x = low + (high
  - low) (level + u) / K`` when ``spec.dequantized``, else ``low + (high - low) level / (K - 1)``."""
  k = spec.num_levels
  unit = (x - spec.low) / (spec.high - spec.low)
  if getattr(spec, 'dequantized', False):
    return jnp.clip(jnp.floor(unit * k), 0, k - 1)
  return jnp.clip(jnp.round(unit * (k - 1)), 0, k - 1)


def dequantize(x: jax.Array, rng: jax.Array, spec) -> tuple[jax.Array, object]:
  """``(x', spec')``: the integer levels of `x` (`integer_levels`) dequantized afresh,
  ``x' = low + (high - low) (level + u) / K``, u ~ U[0, 1) from `rng`, and `spec` marked
  dequantized. For an evaluation of non-dequantized data (``eval.dequantize``; score_sde's
  reference trains on k / 255 and scores (k + u) / 256)."""
  levels = integer_levels(x, spec)
  u = jax.random.uniform(rng, x.shape, x.dtype)
  xc = spec.low + (spec.high - spec.low) * (levels + u) / spec.num_levels
  return xc, dataclasses.replace(spec, dequantized=True)

