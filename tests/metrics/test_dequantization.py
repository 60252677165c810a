"""The variational dequantization bound is a lower bound on the exact discrete log-likelihood, and
the uniform bound when q is uniform."""

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import erf

from jaxgen.data import DataSpec
from jaxgen.metrics import bpd as bpd_lib
from jaxgen.metrics import dequantization
from jaxgen.nets import dequantizer

K = 8
SPEC = DataSpec('test', (2, 2, 1), 0.0, 1.0, K, None, 'unit', True)
MU, SIGMA = 0.45, 0.2


def log_density(x):
  """[b] log N(x; MU, SIGMA^2 I) over all non-batch axes."""
  z = (x - MU) / SIGMA
  return jnp.sum(-0.5 * z**2 - math.log(SIGMA * math.sqrt(2 * math.pi)), axis=(1, 2, 3))


def exact_log_mass(levels):
  """[b] log P(k): the product over dimensions of the Gaussian's mass of each level's bin."""
  cdf = lambda x: 0.5 * (1 + erf((x - MU) / (SIGMA * math.sqrt(2))))
  mass = cdf((levels + 1) / K) - cdf(levels / K)
  return jnp.sum(jnp.log(mass), axis=(1, 2, 3))


def test_variational_bound_is_below_the_exact_discrete_log_likelihood():
  """E_q[log p(x(k + u)) - log q(u | k)] + D log w <= log P(k) for a (perturbed) q, each k."""
  module = dequantizer.Dequantizer(num_levels=K, steps=2, hidden=8)
  levels = jnp.asarray(np.random.default_rng(0).integers(0, K, (4, 2, 2, 1)), jnp.float32)
  params = dequantizer.init(module, jax.random.PRNGKey(0), levels)
  params = jax.tree_util.tree_map(lambda v: v + 0.2, params)
  draws = 2048
  x = jnp.repeat(dequantization.scaled(levels, 0.5, SPEC), draws, axis=0)
  bound = dequantization.variational_log_prob(
      log_density, lambda k, r: dequantizer.draw(module, params, k, r), x,
      jax.random.PRNGKey(1), SPEC)
  bound = jnp.mean(bound.reshape(4, draws), axis=1) + SPEC.dim * math.log(1 / K)
  gap = exact_log_mass(levels) - bound
  assert float(jnp.min(gap)) > 0.0, gap
  # bits/dim of the bound: above the exact discrete bits/dim
  bpd = bpd_lib.bits_per_dim(bound - SPEC.dim * math.log(1 / K), SPEC, False)
  assert np.all(np.asarray(bpd) > np.asarray(-exact_log_mass(levels) / (SPEC.dim * math.log(2))))


def test_uniform_q_gives_the_uniform_bound():
  """With log q = 0 (q uniform) the bound at a draw u is log p of the uniformly dequantized x."""
  rng = jax.random.PRNGKey(2)
  levels = jnp.asarray(np.random.default_rng(1).integers(0, K, (5, 2, 2, 1)), jnp.float32)
  u = jax.random.uniform(rng, levels.shape)
  x = dequantization.scaled(levels, u, SPEC)
  uniform = lambda k, r: (u, jnp.zeros(k.shape[0]))
  got = dequantization.variational_log_prob(log_density, uniform, x, rng, SPEC)
  np.testing.assert_allclose(np.asarray(got), np.asarray(log_density(x)), rtol=1e-6)
  np.testing.assert_allclose(np.asarray(bpd_lib.bits_per_dim(got, SPEC, False)),
                             np.asarray(bpd_lib.bits_per_dim(log_density(x), SPEC, False)),
                             rtol=1e-6)
