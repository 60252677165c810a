"""The isotropic normal N(0, scale^2 I): the prior of ODE and diffusion families.

    standard_normal_logp(z, scale=1.0) -> [b]

log-density in nats of each example of ``z [b, ...]`` (summed over all non-batch axes, D of them):
``-|z|^2 / (2 scale^2) - (D / 2) log(2 pi scale^2)``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp


def standard_normal_logp(z: jax.Array, scale: float = 1.0) -> jax.Array:
  """Per-example ``log N(z; 0, scale^2 I)`` in nats, ``[b]`` for ``z [b, ...]``."""
  d = math.prod(z.shape[1:])
  zz = jnp.sum(jnp.reshape(z, (z.shape[0], -1)) ** 2, axis=-1)
  return -0.5 * zz / scale**2 - 0.5 * d * jnp.log(2 * math.pi * jnp.square(scale))
