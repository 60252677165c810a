"""Closed-form facts about the VP / sub-VP / VE SDEs of `jaxgen.diffusion.sde`."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from jaxgen.diffusion import pc
from jaxgen.diffusion import sde as sde_lib
from tests.distributions import gmm

SDES = {'vp': sde_lib.VPSDE(), 'subvp': sde_lib.SubVPSDE(), 've': sde_lib.VESDE()}


@pytest.mark.parametrize('name', list(SDES))
def test_drift_and_diffusion_generate_the_marginals(name):
  """f = (d log alpha/dt) x and g^2 = d sigma^2/dt - 2 (d log alpha/dt) sigma^2 (moment ODEs).

  (For VE the reference's marginal ignores sigma_min^2 at t = 0, so g^2 = d sigma^2/dt exactly.)
  """
  sde = SDES[name]
  t = jnp.array([0.01, 0.1, 0.5, 0.9, 1.0])
  x = jnp.ones((5, 3))
  drift, g = sde.sde(x, t)
  dla = jax.vmap(jax.grad(lambda s: jnp.log(sde.alpha(s))))(t)
  dvar = jax.vmap(jax.grad(lambda s: sde.sigma(s)**2))(t)
  np.testing.assert_allclose(drift, dla[:, None] * x, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(g**2, dvar - 2 * dla * sde.sigma(t)**2, rtol=1e-4)


@pytest.mark.parametrize('name', list(SDES))
def test_log_snr_inverse(name):
  """t_from_log_snr(log_snr(t)) = t and log_snr = log(alpha^2 / sigma^2), decreasing in t."""
  sde = SDES[name]
  t = jnp.linspace(sde.eps, 1.0, 50)
  lam = sde.log_snr(t)
  np.testing.assert_allclose(lam, 2 * jnp.log(sde.alpha(t) / sde.sigma(t)), rtol=1e-4, atol=1e-4)
  assert np.all(np.diff(np.asarray(lam)) < 0)
  np.testing.assert_allclose(sde.t_from_log_snr(lam), t, rtol=2e-4, atol=1e-6)


@pytest.mark.parametrize('name', list(SDES))
def test_discretized_chain_matches_closed_form_marginals(name):
  """Monte Carlo of x_{i+1} = x_i + f + G z (the discrete chain, N = 1000) from x0 = 1.5 reaches
  mean alpha(t) x0 and std sigma(t) at t = 0.3 and 1.0 within 5 standard errors (n = 10000) plus
  the O(1/N) discretization bias (relative 1e-2)."""
  sde = SDES[name]
  n, x0 = 10000, 1.5
  snap = int(round(0.3 * (sde.N - 1)))

  def body(carry, inp):
    x, xs = carry
    i, key = inp
    f, G = sde.discretize(x, jnp.full((n,), i / (sde.N - 1)))
    x = x + f + G[:, None] * jax.random.normal(key, x.shape)
    return (x, jnp.where(i == snap, x, xs)), None

  run = jax.jit(lambda x: jax.lax.scan(
      body, (x, x), (jnp.arange(sde.N), jax.random.split(jax.random.PRNGKey(0), sde.N)))[0])
  x_end, x_snap = run(jnp.full((n, 1), x0))
  for t, xt in ((0.3, x_snap), (1.0, x_end)):
    xt = np.asarray(xt[:, 0])
    mean, std = sde.marginal_prob(jnp.full((1, 1), x0), t)
    mean, std = float(mean[0, 0]), float(std[0])
    assert abs(xt.mean() - mean) < 5 * std / math.sqrt(n) + 1e-2 * abs(mean) + 1e-2 * std, (
        xt.mean(), mean)
    assert abs(xt.std() - std) < 5 * std / math.sqrt(2 * n) + 1e-2 * std + 1e-3, (xt.std(), std)


@pytest.mark.parametrize('name', list(SDES))
def test_prior_logp(name):
  """prior_logp equals the sum of scipy normal log-densities with the prior's scale."""
  sde = SDES[name]
  z = sde.prior_sample(jax.random.PRNGKey(0), (4, 3, 2))
  ref = scipy.stats.norm.logpdf(np.asarray(z), scale=sde.prior_std).reshape(4, -1).sum(-1)
  np.testing.assert_allclose(sde.prior_logp(z), ref, rtol=1e-5)
  assert z.shape == (4, 3, 2)


@pytest.mark.parametrize('name', list(SDES))
def test_reverse_and_pf_ode_consistency(name):
  """reverse(pf=True) drift == pf_ode velocity == f - g^2 s / 2; reverse SDE drift = f - g^2 s."""
  sde = SDES[name]
  mix = gmm.example_2d()
  score = lambda t, x: gmm.diffused_score(mix, sde.alpha(t), sde.sigma(t), x)
  x = jax.random.normal(jax.random.PRNGKey(1), (6, 2))
  t = jnp.linspace(0.1, 0.9, 6)
  f, g = sde.sde(x, t)
  s = score(t, x)
  v = sde.pf_ode(score)(t, x)
  np.testing.assert_allclose(v, f - 0.5 * g[:, None]**2 * s, rtol=1e-5, atol=1e-5)
  d_pf, g_pf = sde.reverse(score, probability_flow=True).sde(x, t)
  np.testing.assert_allclose(d_pf, v, rtol=1e-6, atol=1e-6)
  assert np.all(np.asarray(g_pf) == 0)
  d_r, g_r = sde.reverse(score).sde(x, t)
  np.testing.assert_allclose(d_r, f - g[:, None]**2 * s, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(g_r, g)
  fr, Gr = sde.reverse(score).discretize(x, t)
  fd, Gd = sde.discretize(x, t)
  np.testing.assert_allclose(fr, fd - Gd[:, None]**2 * s, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(Gr, Gd)


@pytest.mark.parametrize('name', list(SDES))
def test_reverse_discretize_between_two_times_is_the_exact_transition(name):
  """discretize(x, t, s): f = (a - 1) x - G^2 score, G^2 = v with x_t = a x_s + sqrt(v) z the
  exact forward transition (a = alpha_t / alpha_s, v = sigma_t^2 - a^2 sigma_s^2); the
  probability-flow version halves the score term and has G = 0."""
  sde = SDES[name]
  mix = gmm.example_2d()
  score = lambda t, x: gmm.diffused_score(mix, sde.alpha(t), sde.sigma(t), x)
  x = jax.random.normal(jax.random.PRNGKey(1), (6, 2))
  t, s = jnp.full((6,), 0.6), 0.55
  a = sde.alpha(0.6) / sde.alpha(s)
  v = sde.sigma(0.6)**2 - a**2 * sde.sigma(s)**2
  sc = score(t, x)
  f, G = sde.reverse(score).discretize(x, t, s)
  np.testing.assert_allclose(f, (a - 1) * x - v * sc, rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(G, np.full(6, np.sqrt(v)), rtol=1e-4)
  f, G = sde.reverse(score, probability_flow=True).discretize(x, t, s)
  np.testing.assert_allclose(f, (a - 1) * x - 0.5 * v * sc, rtol=1e-4, atol=1e-5)
  assert np.all(np.asarray(G) == 0)


@pytest.mark.parametrize('name', list(SDES))
def test_pf_ode_satisfies_continuity_equation(name):
  """With the exact mixture score, d/dt log p_t(x) = -div v(t, x) - v . grad log p_t(x)."""
  sde = SDES[name]
  mix = gmm.example_2d()
  logp = lambda t, x: mix.diffuse(sde.alpha(t), sde.sigma(t)).log_prob(x[None])[0]
  score = lambda t, x: gmm.diffused_score(mix, sde.alpha(t), sde.sigma(t), x)
  vel = sde.pf_ode(score)
  v1 = lambda t, x: vel(t, x[None])[0]

  @jax.jit
  def residual(t, x):
    dt_logp = jax.grad(logp, argnums=0)(t, x)
    div = jnp.trace(jax.jacfwd(lambda y: v1(t, y))(x))
    return dt_logp - (-div - v1(t, x) @ jax.grad(lambda y: logp(t, y))(x))

  xs = jnp.asarray(np.random.RandomState(0).randn(4, 2).astype(np.float32))
  for t in (0.05, 0.3, 0.8):
    scale = 1.0 if name != 've' else float(sde.sigma(t)) + 1
    r = jax.vmap(residual, in_axes=(None, 0))(jnp.float32(t), xs * scale)
    np.testing.assert_allclose(r, 0.0, atol=2e-3)


@pytest.mark.parametrize('pf', [False, True])
def test_euler_maruyama_predictor_is_euler_maruyama_on_the_reverse_sde(pf):
  """One euler_maruyama step t -> s is x + [f - w g^2 score] (s - t) + g sqrt(t - s) z (w = 1;
  probability flow: w = 1/2 and no noise), with z the step key's standard normal draw."""
  sde = sde_lib.VPSDE()
  mix = gmm.example_2d()
  score = lambda t, x: gmm.diffused_score(mix, sde.alpha(t), sde.sigma(t), x)
  x = jax.random.normal(jax.random.PRNGKey(1), (6, 2))
  t, s, key = 0.6, 0.5, jax.random.PRNGKey(2)
  tb = jnp.full((6,), t)
  f, g = sde.sde(x, tb)
  w = 0.5 if pf else 1.0
  want = x + (f - w * g[:, None]**2 * score(tb, x)) * (s - t)
  if not pf:
    want = want + g[:, None] * np.sqrt(t - s) * jax.random.normal(key, x.shape)
  got = pc.euler_maruyama(sde, score, x, t, s, key, probability_flow=pf)
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
