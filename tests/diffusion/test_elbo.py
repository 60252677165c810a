"""Closed-form facts about the variational bound of `jaxgen.diffusion.elbo`.

For data ``N(m, s0^2 I)`` the marginal at t is ``N(alpha m, v I)``, ``v = alpha^2 s0^2 + sigma^2``,
with exact score ``-(x - alpha m) / v``. With that score the bound exceeds ``-log p(x)`` only by
the prior mismatch ``E[log p_T(x_T) - log pi(x_T) | x]`` (plus the O(eps) decoder gap, below
1e-6 nats here); so

  * VP with data ``N(0, I)``: ``p_T = pi = N(0, I)``, the bound equals ``-log p(x)``;
  * a prior unlike ``p_T`` (VE with sigma_max = 5, VP with beta_max = 2; m = 2) gives a bound above
    ``-log p(x)`` by the Gaussian closed form of that mismatch;
  * scaling the exact score by k raises the bound by ``(k - 1)^2 / 2 int g^2 E||s||^2 dt``
    (VP, N(0, I): ``E||s||^2 = D``, so ``(k - 1)^2 D (B(T) - B(eps)) / 2``).

Monte Carlo: per-example differences (paired: the same x and keys), mean within 4 standard
errors of the closed form.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.diffusion import elbo
from jaxgen.diffusion import sde as sde_lib

D, N, NUM_T, EPS = 4, 4096, 64, 1e-5


def _exact_score(sde, m, s0, scale=1.0):
  def fn(t, x):
    a, s = sde.alpha(t)[:, None], sde.sigma(t)[:, None]
    return -scale * (x - a * m) / (a**2 * s0**2 + s**2)
  return fn


def _gauss_nll(x, mean, var):
  """-log N(x; mean, var I) per example (float64), var a scalar."""
  return 0.5 * D * np.log(2 * np.pi * var) + np.sum((x - mean)**2, axis=1) / (2 * var)


def _bound(sde, x, score, seed=2, **kw):
  fn = jax.jit(lambda x, r: elbo.negative_elbo(score, sde, x, r, eps=EPS, num_t=NUM_T, **kw))
  return np.asarray(fn(jnp.asarray(x, jnp.float32), jax.random.PRNGKey(seed)), np.float64)


def _check(diff, expected):
  se = diff.std() / np.sqrt(diff.size)
  assert abs(diff.mean() - expected) < 4 * se, (diff.mean(), expected, se)
  return se


@pytest.mark.parametrize('importance_sampling', [True, False])
def test_vp_standard_normal_bound_is_the_nll(importance_sampling):
  """VP, data N(0, I), exact score -x: the bound equals -log N(x; 0, I) (4 SE); importance
  sampling has a smaller standard error than the uniform draw of t."""
  sde = sde_lib.VPSDE()
  x = np.asarray(jax.random.normal(jax.random.PRNGKey(1), (N, D)), np.float64)
  b = _bound(sde, x, _exact_score(sde, 0.0, 1.0), importance_sampling=importance_sampling)
  se = _check(b - _gauss_nll(x, 0.0, 1.0), 0.0)
  assert se < (0.1 if importance_sampling else 1.0)


@pytest.mark.parametrize('name', ['ve', 'vp'])
def test_bound_exceeds_the_nll_by_the_prior_mismatch(name):
  """Data N(2, 0.25 I), exact score, a prior unlike p_T: bound - (-log p(x)) equals
  E[log p_T(x_T) - log pi(x_T) | x] (4 SE), and that gap is positive (above 4 SE)."""
  m, s0 = 2.0, 0.5
  sde = sde_lib.VESDE(sigma_max=5.0) if name == 've' else sde_lib.VPSDE(beta_max=2.0)
  x = m + s0 * np.asarray(jax.random.normal(jax.random.PRNGKey(3), (N, D)), np.float64)
  b = _bound(sde, x, _exact_score(sde, m, s0))
  a, s = float(sde.alpha(jnp.float32(1.0))), float(sde.sigma(jnp.float32(1.0)))
  v_t, p2 = a**2 * s0**2 + s**2, sde.prior_std**2

  def cross_entropy(mean, var):  # E[-log N(x_T; mean, var I) | x] with x_T | x ~ N(a x, s^2 I)
    return _gauss_nll(a * x, mean, var) + D * s**2 / (2 * var)

  gap = cross_entropy(0.0, p2) - cross_entropy(a * m, v_t)
  diff = b - _gauss_nll(x, m, s0**2)
  se = _check(diff - gap, 0.0)
  assert gap.mean() > 4 * se, (gap.mean(), se)


def test_worse_score_gives_a_larger_bound():
  """VP, N(0, I): the score scaled by 1.1 raises the bound by 0.01 D (B(T) - B(eps)) / 2."""
  sde = sde_lib.VPSDE()
  x = np.asarray(jax.random.normal(jax.random.PRNGKey(4), (N, D)), np.float64)
  best = _bound(sde, x, _exact_score(sde, 0.0, 1.0))
  worse = _bound(sde, x, _exact_score(sde, 0.0, 1.0, scale=1.1))
  expected = 0.01 * D * float(sde.int_beta(1.0) - sde.int_beta(EPS)) / 2
  se = _check(worse - best, expected)
  assert expected > 10 * se
