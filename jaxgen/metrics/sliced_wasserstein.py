"""Sliced Wasserstein-2 distance between two sample sets (for toy data and quick checks)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def sliced_wasserstein(rng, x, y, num_projections: int = 256):
  """SW_2 between the empirical measures of x [n, ...] and y [n, ...] (same n).

  Projects both onto `num_projections` random unit directions, sorts, and averages the squared
  differences of the order statistics; returns the square root of the mean over directions.
  """
  x = x.reshape(x.shape[0], -1)
  y = y.reshape(y.shape[0], -1)
  n = min(x.shape[0], y.shape[0])
  x, y = x[:n], y[:n]
  theta = jax.random.normal(rng, (x.shape[1], num_projections))
  theta = theta / jnp.linalg.norm(theta, axis=0, keepdims=True)
  px = jnp.sort(x @ theta, axis=0)
  py = jnp.sort(y @ theta, axis=0)
  return jnp.sqrt(jnp.mean((px - py) ** 2))
