"""Closed-form facts about `jaxgen.diffusion.score_losses`.

For data ``N(m, s0^2 I)`` the time-t marginal is ``N(alpha m, v I)``,
``v = alpha^2 s0^2 + sigma^2``, and the exact score is ``-(x - alpha m) / v``. At the exact score
the DSM loss does not vanish: per dimension ``E||s sigma + z||^2 = alpha^2 s0^2 / v``
(`gaussian_dsm_minimum` below), so

  * continuous, default weighting:  L* = E_{t~U(eps,1)}[alpha^2 s0^2 / v]        (x d/2 for 0.5*sum)
  * continuous, likelihood weight:  L* = E_t[g^2 / sigma^2 * alpha^2 s0^2 / v]  (t ~ U, or t drawn
                                    by importance sampling and reweighted: the same L*)
  * DDPM / SMLD (discrete):         L* = mean_i alpha_i^2 s0^2 / v_i

Monte Carlo estimates over n examples must agree within 5 standard errors (CLT; SE from the
sample's own per-example spread). Any other score (here: the exact one scaled by 1.1) scores
strictly more.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.diffusion import score_losses as sl
from jaxgen.diffusion import sde as sde_lib

D, S0, N_MC = 4, 0.5, 200_000
M = jnp.array([0.3, -0.7, 1.0, 0.0])


def gaussian_dsm_minimum(sde, s0: float, t: jax.Array) -> jax.Array:
  """Per-dimension ``E|| s* sigma + z ||^2`` at time ``t`` for data ``N(m, s0^2 I)`` (exact score).

  With ``x_t = alpha x0 + sigma z`` the optimal score is ``-(x_t - alpha m) / v``,
  ``v = alpha^2 s0^2 + sigma^2``; then ``s* sigma + z = (alpha^2 s0^2 z - sigma alpha s0 e) / v``
  with ``e, z`` independent standard normals, whose variance is ``alpha^2 s0^2 / v``.
  """
  a, s = sde.alpha(t), sde.sigma(t)
  return a**2 * s0**2 / (a**2 * s0**2 + s**2)


def _data(n=N_MC, seed=0):
  return M + S0 * jax.random.normal(jax.random.PRNGKey(seed), (n, D))


def _exact_score(sde, discrete=False, scale=1.0):
  """score_fn(params, t, x, rng, train) of the diffused Gaussian (params ignored)."""

  def fn(params, t, x, rng=None, train=False):
    if discrete and isinstance(sde, sde_lib.VESDE):
      a, s = jnp.ones_like(t), sde.discrete_sigmas[sl.discrete_index(sde, t)]
    elif discrete:
      i = sl.discrete_index(sde, t)
      a, s = sl.ddpm_sqrt_alphabar(sde)[i], sl.ddpm_sqrt_one_minus_alphabar(sde)[i]
    else:
      a, s = sde.alpha(t), sde.sigma(t)
    v = a**2 * S0**2 + s**2
    return -scale * (x - a[:, None] * M) / v[:, None]

  return fn


def _time_average(f, eps, n=200_001):
  """E_{t ~ U(eps, 1)} f(t) by the trapezoid rule in u = log t (integrand ~ 1/t near 0)."""
  u = jnp.linspace(np.log(eps), 0.0, n)
  t = jnp.exp(u)
  return float(jnp.trapezoid(f(t) * t, u) / (1.0 - eps))


def _check(per, expected):
  per = np.asarray(per, np.float64)
  se = per.std() / np.sqrt(per.size)
  assert abs(per.mean() - expected) < 5 * se + 1e-4 * abs(expected), (per.mean(), expected, se)


SDES = {'vp': sde_lib.VPSDE(), 'subvp': sde_lib.SubVPSDE(), 've': sde_lib.VESDE(sigma_max=5.0)}


@pytest.mark.parametrize('name', list(SDES))
@pytest.mark.parametrize('reduce_mean', [True, False])
def test_continuous_dsm_minimum(name, reduce_mean):
  """Continuous DSM at the exact score = E_t[alpha^2 s0^2 / v] (per dim), within 5 SE."""
  sde = SDES[name]
  eps = 1e-5
  _, per = sl.dsm_loss(_exact_score(sde), sde, None, _data(), jax.random.PRNGKey(1), eps=eps,
                       reduce_mean=reduce_mean)
  k = 1.0 if reduce_mean else 0.5 * D
  _check(per, k * _time_average(lambda t: gaussian_dsm_minimum(sde, S0, t), eps))


@pytest.mark.parametrize('name', list(SDES))
def test_likelihood_weighted_dsm_minimum(name):
  """Likelihood-weighted DSM at the exact score = E_t[g^2/sigma^2 alpha^2 s0^2/v] (eps=1e-3)."""
  sde = SDES[name]
  eps = 1e-3

  def f(t):
    g = sde.sde(jnp.zeros((t.shape[0], 1)), t)[1]
    return g**2 / sde.sigma(t)**2 * gaussian_dsm_minimum(sde, S0, t)

  _, per = sl.dsm_loss(_exact_score(sde), sde, None, _data(), jax.random.PRNGKey(2), eps=eps,
                       likelihood_weighting=True)
  _check(per, _time_average(f, eps))


@pytest.mark.parametrize('name', list(SDES))
def test_importance_sampled_dsm_has_the_likelihood_weighted_mean(name):
  """Importance sampling of t (q ~ g^2/sigma^2, weight 1/((1-eps) q)) keeps the
  likelihood-weighted objective: at the exact score its mean is E_{t~U}[g^2/sigma^2 alpha^2 s0^2/v]
  within 5 SE (eps = 1e-5, where the uniform draw's variance is largest); for VP its per-example
  spread is below the uniform draw's (the reason for the option)."""
  sde = SDES[name]
  eps = 1e-5

  def f(t):
    g = sde.sde(jnp.zeros((t.shape[0], 1)), t)[1]
    return g**2 / sde.sigma(t)**2 * gaussian_dsm_minimum(sde, S0, t)

  x, key = _data(), jax.random.PRNGKey(5)
  _, per = sl.dsm_loss(_exact_score(sde), sde, None, x, key, eps=eps, likelihood_weighting=True,
                       importance_sampling=True)
  _check(per, _time_average(f, eps))
  if name == 'vp':
    _, uniform = sl.dsm_loss(_exact_score(sde), sde, None, x, key, eps=eps,
                             likelihood_weighting=True)
    assert float(jnp.std(per)) < 0.2 * float(jnp.std(uniform))


def test_importance_sampling_needs_likelihood_weighting():
  """Importance sampling without likelihood weighting, or with a discrete loss, is refused."""
  sde = SDES['vp']
  with pytest.raises(ValueError, match='needs likelihood weighting'):
    sl.dsm_loss(_exact_score(sde), sde, None, _data(8), jax.random.PRNGKey(0),
                importance_sampling=True)
  with pytest.raises(ValueError, match='need the continuous loss'):
    sl.get_loss(sde, continuous=False, reduce_mean=True, likelihood_weighting=True,
                importance_sampling=True)


@pytest.mark.parametrize('name', ['vp', 've'])
def test_discrete_loss_minimum(name):
  """DDPM (VP) / SMLD (VE) at the exact score = mean over the N levels of alpha_i^2 s0^2 / v_i."""
  sde = SDES[name]
  loss = sl.ddpm_loss if name == 'vp' else sl.smld_loss
  _, per = loss(_exact_score(sde, discrete=True), sde, None, _data(), jax.random.PRNGKey(3))
  if name == 'vp':
    a2, s2 = sl.ddpm_sqrt_alphabar(sde)**2, sl.ddpm_sqrt_one_minus_alphabar(sde)**2
  else:
    a2, s2 = 1.0, sde.discrete_sigmas**2
  _check(per, float(jnp.mean(a2 * S0**2 / (a2 * S0**2 + s2))))


@pytest.mark.parametrize('name', list(SDES))
def test_exact_score_is_the_minimiser(name):
  """Scaling the exact score by 1.1 raises the loss (same noise draws)."""
  sde = SDES[name]
  x, key = _data(20_000), jax.random.PRNGKey(4)
  best, _ = sl.dsm_loss(_exact_score(sde), sde, None, x, key)
  worse, _ = sl.dsm_loss(_exact_score(sde, scale=1.1), sde, None, x, key)
  assert float(worse) > float(best)


def test_output_to_score_conventions():
  """VP: score = -out/sigma(t) with label t*999; VE: label sigma(t), score = out/sigma."""
  x = jnp.ones((3, 2))
  t = jnp.array([0.1, 0.5, 0.9])
  seen = {}

  def net(params, x, labels, train, rng):
    seen['labels'] = labels
    return jnp.full_like(x, 2.0)

  vp = sde_lib.VPSDE()
  s = sl.make_score_fn(vp, net)(None, t, x)
  np.testing.assert_allclose(seen['labels'], t * 999, rtol=1e-6)
  np.testing.assert_allclose(s, -2.0 / vp.sigma(t)[:, None] * x, rtol=1e-5)
  ve = sde_lib.VESDE()
  s = sl.make_score_fn(ve, net, scale_by_sigma=True)(None, t, x)
  np.testing.assert_allclose(seen['labels'], ve.sigma(t), rtol=1e-5)
  np.testing.assert_allclose(s, 2.0 / ve.sigma(t)[:, None] * x, rtol=1e-5)
  s = sl.make_score_fn(vp, net, continuous=False)(None, t, x)
  np.testing.assert_allclose(seen['labels'], jnp.round(t * 999), rtol=1e-6)
