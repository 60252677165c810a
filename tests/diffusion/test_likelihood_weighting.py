"""The importance-sampling proposal of `jaxgen.diffusion.likelihood_weighting`.

Facts: the proposal's density is ``g(t)^2 / sigma(t)^2`` normalised on ``[eps, T]`` (computed here
from the SDE's own ``g`` and ``sigma``, integrated numerically, not from the log-SNR identity the
module uses); draws of ``sample_t`` follow its CDF (Kolmogorov-Smirnov, p > 0.01, for VP, sub-VP
and VE); and the weight ``1 / ((T - eps) q)`` turns a q-average into a uniform average.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jaxgen.diffusion import likelihood_weighting as lw
from jaxgen.diffusion import sde as sde_lib

SDES = {'vp': sde_lib.VPSDE(), 'subvp': sde_lib.SubVPSDE(), 've': sde_lib.VESDE()}
EPS = 1e-5


def _ratio(sde, t):
  """g^2 / sigma^2 straight from the SDE's coefficients, float64."""
  t = jnp.asarray(t, jnp.float32)
  g = sde.sde(jnp.zeros((t.shape[0], 1)), t)[1]
  return np.asarray(g, np.float64)**2 / np.asarray(sde.sigma(t), np.float64)**2


def _numerical_cdf(sde, n=200_001):
  """CDF of g^2/sigma^2 on [EPS, T] by the trapezoid rule in u = log t (the ratio ~ 1/t)."""
  u = np.linspace(np.log(EPS), 0.0, n)
  t = np.exp(u)
  f = _ratio(sde, t) * t
  cum = np.concatenate([[0.0], np.cumsum(0.5 * (f[1:] + f[:-1]) * np.diff(u))])
  return t, cum / cum[-1], cum[-1]


@pytest.mark.parametrize('name', list(SDES))
def test_normaliser_and_density_match_the_integral(name):
  """Z = int g^2/sigma^2 dt (numerical) and q = (g^2/sigma^2) / Z, to 1e-4 relative."""
  sde = SDES[name]
  _, _, z = _numerical_cdf(sde)
  np.testing.assert_allclose(float(lw.normaliser(sde, EPS)), z, rtol=1e-4)
  t = jnp.array([1e-4, 0.01, 0.3, 0.9])
  np.testing.assert_allclose(np.asarray(lw.density(sde, t, EPS)), _ratio(sde, t) / z, rtol=1e-4)


@pytest.mark.parametrize('name', list(SDES))
def test_samples_follow_the_density(name):
  """KS test of 20000 draws against the numerically integrated CDF of g^2/sigma^2 (p > 0.01);
  the same draws fail against the uniform CDF except for VE, whose proposal is uniform."""
  sde = SDES[name]
  t = np.asarray(lw.sample_t(sde, jax.random.PRNGKey(0), (20_000,), EPS), np.float64)
  assert t.min() >= EPS and t.max() <= sde.T
  grid, cdf, _ = _numerical_cdf(sde)
  p = stats.kstest(t, lambda v: np.interp(v, grid, cdf)).pvalue
  assert p > 0.01, p
  p_uniform = stats.kstest(t, stats.uniform(EPS, sde.T - EPS).cdf).pvalue
  assert (p_uniform > 0.01) if name == 've' else (p_uniform < 1e-6), p_uniform


def test_weight_turns_a_q_average_into_a_uniform_average():
  """E_q[w(t) h(t)] = E_U[h(t)] for h(t) = t (uniform mean (1 + eps) / 2), within 4 SE."""
  sde = SDES['vp']
  t = lw.sample_t(sde, jax.random.PRNGKey(1), (200_000,), EPS)
  v = np.asarray(lw.weight(sde, t, EPS) * t, np.float64)
  se = v.std() / np.sqrt(v.size)
  assert abs(v.mean() - (1 + EPS) / 2) < 4 * se, (v.mean(), se)
