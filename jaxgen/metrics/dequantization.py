"""The variational dequantization bound (Flow++, Ho et al. 2019) on `jaxgen.metrics.bpd`'s data
scaling.

Integer data k in {0..K-1}^D are scaled to ``x = low + (high - low) (k + u) / K`` (on [0, 1]
with K = 256: x = (k + u) / 256), each level owning a bin of width w = (high - low) / K. For any
density q(u | k) on [0, 1)^D,

    log P(k) = log int_{[0,1)^D} p(x(k + u)) w^D du
             >= E_{u ~ q}[log p(x(k + u)) - log q(u | k)] + D log w        (Jensen),

with equality iff q(u | k) = p(x(k + u)) w^D / P(k). `variational_log_prob` returns the bracket
for one draw u (nats, "density units": `jaxgen.metrics.bpd.bits_per_dim(..., discrete=False)`
adds the D log w, as it does for the uniform bound). With q uniform, log q = 0 and the bracket is
the uniform bound's log p(x) at the same u.
"""

from __future__ import annotations

from typing import Callable

import jax

from jaxgen.metrics import bpd as bpd_lib


def scaled(levels: jax.Array, u: jax.Array, spec) -> jax.Array:
  """``low + (high - low) (levels + u) / K``: integer levels dequantized by ``u`` in [0, 1)."""
  return spec.low + (spec.high - spec.low) * (levels + u) / spec.num_levels


def variational_log_prob(log_density: Callable, dequantizer: Callable, x: jax.Array, rng,
                         spec) -> jax.Array:
  """[b] ``log p(x(k + u)) - log q(u | k)`` nats for one draw ``u ~ q`` (module doc).

  log_density: ``x -> [b]`` the model's log-density; dequantizer: ``(levels, rng) -> (u, log_q
  [b])``; x: data of `spec` (its levels: `jaxgen.metrics.bpd.integer_levels`)."""
  levels = bpd_lib.integer_levels(x, spec)
  u, log_q = dequantizer(levels, rng)
  return log_density(scaled(levels, u, spec)) - log_q
