"""Classifier guidance with the EXACT posterior is conditional sampling (closed form).

The data is the 3-component full-covariance 2-D mixture `gmm.example_2d()` whose components are
the classes: p(x | y = k) = N(mu_k, S_k), p(y = k) = w_k. Under a linear SDE the time-t law of
class k is N(alpha mu_k, alpha^2 S_k + sigma^2 I), so the exact posterior is
``log p_t(k | x) = log w_k + log N_k,t(x) - log p_t(x)`` (component densities from `gmm`), and
Bayes' rule gives ``grad log p_t(x) + grad log p_t(k | x) = grad log N_k,t(x)``: with scale 1 the
guided score is class k's score, and the samplers then sample class k.

Sample bounds, from the sample size n = 2000 (CLT; the target is Gaussian, so the standard error
of the sample covariance is se_ij = sqrt((C_ii C_jj + C_ij^2) / n)): |mean_hat_i - m_i| <
4 sqrt(C_ii / n) and |C_hat_ij - C_ij| < 4 se_ij, against class k's law at the end time eps
(no final denoising). The samplers' discretization bias has to fit inside (500 PC steps, 40 RK4
steps, as tests/diffusion/test_mixture_samples.py measured for the unconditional mixture).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.diffusion import classifier_guidance as cg
from jaxgen.diffusion import sampler
from jaxgen.diffusion import sde as sde_lib
from tests.distributions import gmm

N = 2000
MIX = gmm.example_2d()
SDES = {'vp': sde_lib.VPSDE(), 'subvp': sde_lib.SubVPSDE(), 've': sde_lib.VESDE()}


def _component(k):
  return gmm.GaussianMixture.make([1.0], MIX.means[k:k + 1], MIX.covs[k:k + 1])


def _coeffs(sde, t):
  return sde.alpha(t), sde.sigma(t)


def _score(sde, mix):
  return lambda t, x: gmm.diffused_score(mix, *_coeffs(sde, t), x)


def exact_log_posterior(sde):
  """``(t, x, y) -> [b]`` log p_t(y | x) of the diffused mixture (Bayes' rule)."""
  def log_p_y(t, x, y):
    a, s = _coeffs(sde, t)
    comp = jnp.stack([jnp.log(MIX.weights[k]) + gmm.diffused_log_prob(_component(k), a, s, x)
                      for k in range(MIX.num_components)], axis=-1)  # [b, K]
    logp = comp - jax.scipy.special.logsumexp(comp, axis=-1, keepdims=True)
    return jnp.take_along_axis(logp, y[:, None], axis=-1)[:, 0]
  return log_p_y


@pytest.mark.parametrize('name', list(SDES))
def test_guided_score_with_the_exact_posterior_is_the_class_score(name):
  sde = SDES[name]
  x = 2.0 * jax.random.normal(jax.random.PRNGKey(0), (64, 2))
  t = jax.random.uniform(jax.random.PRNGKey(1), (64,), minval=sde.eps, maxval=1.0)

  @jax.jit
  def scores(labels, scale):
    guided = cg.guided_score(_score(sde, MIX), exact_log_posterior(sde), labels, scale)(t, x)
    per_class = jnp.stack([_score(sde, _component(k))(t, x) for k in range(3)])
    return guided, per_class, _score(sde, MIX)(t, x)

  for k in range(MIX.num_components):
    guided, per_class, _ = scores(jnp.full((64,), k), 1.0)
    want = per_class[k]
    np.testing.assert_allclose(guided, want, rtol=1e-4, atol=1e-4 * float(jnp.abs(want).max()))
  # Mixed labels get their own class's score (per example); scale 0 is the unguided score.
  labels = jnp.arange(64) % 3
  guided, per_class, plain = scores(labels, 1.0)
  want = per_class[labels, jnp.arange(64)]
  np.testing.assert_allclose(guided, want, rtol=1e-4, atol=1e-4 * float(jnp.abs(want).max()))
  np.testing.assert_allclose(scores(labels, 0.0)[0], plain, rtol=1e-6)


def _check_class_moments(x, sde, k):
  a, s = float(sde.alpha(sde.eps)), float(sde.sigma(sde.eps))
  m = a * np.asarray(MIX.means[k])
  c = a**2 * np.asarray(MIX.full_covs()[k]) + s**2 * np.eye(2)
  se = np.sqrt((np.outer(np.diag(c), np.diag(c)) + c**2) / N)
  x = np.asarray(x)
  assert np.all(np.isfinite(x))
  assert np.all(np.abs(x.mean(0) - m) < 4 * np.sqrt(np.diag(c) / N)), (x.mean(0), m)
  assert np.all(np.abs(np.cov(x.T) - c) < 4 * se), (np.cov(x.T), c, se)


@pytest.mark.parametrize('method, settings', [
    ('pc', dict(method='pc', predictor='reverse_diffusion', corrector='none', steps=500,
                denoise=False)),
    ('ode', dict(method='ode', solver='rk4', steps=40, denoise=False)),
])
def test_guided_samplers_sample_the_class(method, settings):
  """PC (reverse diffusion, 500 steps) and the PF-ODE (RK4, 40 steps) with the guided score of
  class 1 (the 0.3-weight component; the others would pull samples away if guidance failed)
  reproduce class 1's mean and covariance at eps (VP SDE)."""
  sde, k = SDES['vp'], 1
  score = cg.guided_score(_score(sde, MIX), exact_log_posterior(sde), jnp.full((N,), k), 1.0)
  x, _ = jax.jit(lambda r: sampler.sample(sde, score, r, (N, 2), settings))(jax.random.PRNGKey(3))
  _check_class_moments(x, sde, k)


def test_sample_with_score_applies_the_transform():
  """The family hook: no transform = the plain sampler; a transform replaces the score."""
  sde = SDES['vp']
  score_p = lambda params, t, x: params * _score(sde, MIX)(t, x)
  settings = lambda s: sampler.DiffusionSampling.from_config(s)
  sample = cg.sample_with_score(sde, score_p, (2,), settings)
  s = dict(method='ode', solver='euler', steps=4, denoise=False)
  comp = _score(sde, _component(2))

  @jax.jit
  def run(rng):
    return (sample(1.0, rng, 8, s), sampler.sample(sde, _score(sde, MIX), rng, (8, 2), s)[0],
            sample(1.0, rng, 8, s, transform=lambda score: comp)[0],
            sampler.sample(sde, comp, rng, (8, 2), s)[0])

  (plain, info), want, other, want_other = run(jax.random.PRNGKey(0))
  np.testing.assert_allclose(plain, want, rtol=1e-6)
  assert int(info['nfe']) == 4
  np.testing.assert_allclose(other, want_other, rtol=1e-6)
  assert np.abs(np.asarray(other - plain)).max() > 1e-2   # the transform changed the samples
