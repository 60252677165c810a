"""Bits/dim of a rectified flow on dequantized images, with the data scaling's Jacobian.

The flow is the exact (marginal-preserving) velocity of the independent coupling of N(0, I) at
t = 0 with N(m, s^2 I) at t = 1: x_t ~ N(t m, (t^2 s^2 + (1 - t)^2) I) and

    v(t, x) = E[x1 - x0 | x_t = x] = m + (t s^2 - (1 - t)) / (t^2 s^2 + (1 - t)^2) (x - t m),

so its ODE likelihood at t = 1 is log N(x; m, s^2 I) exactly. On digits dequantized to [-1, 1]
(K = 17 bins of width w = 2/17) the bound is bpd = -log p(x) / (D ln 2) + log2(17 / 2): the
log2(K / (high - low)) term is the Jacobian of the scaling (`jaxgen.metrics.bpd.offset_bits`).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen import data as data_lib
from jaxgen.metrics import bpd as bpd_lib
from jaxgen.distributions.normal import standard_normal_logp
from jaxgen.ode import likelihood as likelihood_lib
from jaxgen.ode import solvers

M, S = 0.1, 0.5


def _v(t, x):
  return M + (t * S**2 - (1 - t)) / (t**2 * S**2 + (1 - t)**2) * (x - t * M)


def _log_normal(x):
  return jnp.sum(-0.5 * ((x - M) / S)**2 - 0.5 * math.log(2 * math.pi * S**2), axis=(1, 2, 3))


def _digits():
  d = data_lib.defaults()
  d.name, d.scale, d.dequantize = 'digits', 'symmetric', True
  src = data_lib.build(d, 0)
  return src.spec, next(src.eval_batches(16))['x']


def _flow_log_prob(v, x, rng, spec, probes=0):
  """log p_1(x) of the flow from N(0, I) at t = 0, as the family computes it."""
  return likelihood_lib.ode_log_likelihood(v, x, standard_normal_logp, 1.0, 0.0, rng=rng,
                                           solver=spec, **likelihood_lib.estimator(probes))[0]


def test_ode_log_prob_is_the_closed_form_and_bpd_adds_the_scaling_jacobian():
  spec, x = _digits()
  assert (spec.low, spec.high, spec.num_levels, spec.dequantized) == (-1.0, 1.0, 17, True)
  lp = _flow_log_prob(_v, jnp.asarray(x), jax.random.key(0), solvers.SolverSpec(
      solver='dopri5', rtol=1e-6, atol=1e-6), probes=0)
  np.testing.assert_allclose(lp, _log_normal(x), rtol=1e-4)
  want = -_log_normal(x) / (64 * math.log(2)) + math.log2(17 / 2)
  np.testing.assert_allclose(bpd_lib.bits_per_dim(lp, spec, discrete=False), want, rtol=1e-4)


def test_dequantized_bpd_matches_the_expected_bound_over_the_bins():
  """E_u[bpd] over uniform dequantization in closed form: per dimension, the bin [a, a + w]
  gives E[(x - m)^2] = ((a + w - m)^3 - (a - m)^3) / (3 w)."""
  spec, x = _digits()
  levels = np.asarray(bpd_lib.integer_levels(jnp.asarray(x), spec))
  w = (spec.high - spec.low) / spec.num_levels
  a = spec.low + w * levels
  sq = ((a + w - M)**3 - (a - M)**3) / (3 * w)
  nll = np.sum(0.5 * sq / S**2 + 0.5 * math.log(2 * math.pi * S**2), axis=(1, 2, 3))
  want = nll / (64 * math.log(2)) + math.log2(17 / 2)
  keys = jax.random.split(jax.random.key(1), 8)   # 8 fresh dequantizations of x's levels
  lps = jnp.stack([_flow_log_prob(_v, bpd_lib.dequantize(jnp.asarray(x), k, spec)[0], k,
                                    solvers.SolverSpec(solver='dopri5')) for k in keys])
  per_draw = np.asarray(bpd_lib.bits_per_dim(lps, spec, discrete=False))
  got = per_draw.mean(axis=0)
  se = per_draw.std(axis=0, ddof=1) / math.sqrt(8)       # Monte Carlo error of each mean
  assert np.all(np.abs(np.asarray(got) - want) < 5 * se + 1e-4), (got - want, se)
