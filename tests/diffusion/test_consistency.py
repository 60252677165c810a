"""The consistency-model maths (`jaxgen.diffusion.consistency`) against closed forms: the
boundary condition, the curriculum, the lognormal proposal, the pseudo-Huber loss, and on a
Gaussian data set (whose PF-ODE map is linear) the exact consistency function and denoiser."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.diffusion import consistency as cm

S = cm.Schedule()


def test_boundary_condition_is_exact_for_any_network():
  """f(sigma_min, x) == x bit for bit, whatever the (finite) network outputs."""
  x = jax.random.normal(jax.random.PRNGKey(0), (64, 5)) * 3.0
  w = jax.random.normal(jax.random.PRNGKey(1), (5, 5)) * 10.0
  f = cm.consistency_fn(lambda sigma, y: jnp.tanh(y @ w) * 100.0 + sigma[:, None], S)
  out = f(jnp.full((64,), S.sigma_min), x)
  np.testing.assert_array_equal(np.asarray(out), np.asarray(x))
  assert not np.allclose(f(jnp.full((64,), 0.01), x), x)


def test_curriculum_at_hand_values():
  """K = 800: K' = floor(800 / (log2(128) + 1)) = 100 steps per doubling of 10 intervals, capped
  at 1280."""
  assert cm.budget(800, S) == 100
  for k, n in [(0, 11), (99, 11), (100, 21), (250, 41), (600, 641), (700, 1281), (799, 1281),
               (10**6, 1281)]:
    assert int(cm.num_points(k, 800, S)) == n, k
  fixed = cm.Schedule(s0=17, s1=17)
  assert {int(cm.num_points(k, 50, fixed)) for k in (0, 25, 49)} == {18}


def test_karras_grid_ends_and_rho_spacing():
  grid = np.asarray(cm.karras_grid(11, S))
  assert grid[0] == np.float32(S.sigma_min) and grid[10] == pytest.approx(S.sigma_max, rel=1e-5)
  roots = grid[:11] ** (1 / S.rho)
  np.testing.assert_allclose(np.diff(roots), np.diff(roots)[0], rtol=1e-4)
  assert np.all(grid[11:] == grid[10])


def test_lognormal_proposal_histogram_matches_its_probabilities():
  """Pair indices drawn by `sample_pairs` have the frequencies of `pair_probabilities`, which are
  the lognormal's masses between adjacent levels (chi-square over the 20 pairs of N = 21)."""
  n, draws = 21, 200_000
  p = np.asarray(cm.pair_probabilities(n, S), np.float64)
  grid = np.asarray(cm.karras_grid(n, S), np.float64)
  cdf = [0.5 * (1 + math.erf((math.log(g) - S.p_mean) / (math.sqrt(2) * S.p_std)))
         for g in grid[:n]]
  expect = np.diff(cdf) / (cdf[-1] - cdf[0])
  np.testing.assert_allclose(p[:n - 1], expect, rtol=1e-4, atol=1e-7)
  assert np.all(p[n - 1:] == 0)
  lo, _ = cm.sample_pairs(jax.random.PRNGKey(0), draws, n, S)
  idx = np.searchsorted(grid[:n].astype(np.float32), np.asarray(lo))
  counts = np.bincount(idx, minlength=n - 1)
  assert counts.sum() == draws and counts[n - 1:].sum() == 0
  keep = expect * draws > 5
  chi2 = np.sum((counts[:n - 1][keep] - draws * expect[keep]) ** 2 / (draws * expect[keep]))
  assert chi2 < 45, chi2   # 19 degrees of freedom: P(chi2 > 45) < 1e-3


def test_pseudo_huber_against_its_formula():
  a = jax.random.normal(jax.random.PRNGKey(0), (8, 3, 4))
  b = jax.random.normal(jax.random.PRNGKey(1), (8, 3, 4))
  c = cm.huber_c(12)
  assert c == pytest.approx(0.00054 * math.sqrt(12))
  sq = np.sum((np.asarray(a) - np.asarray(b)) ** 2, axis=(1, 2))
  np.testing.assert_allclose(cm.pseudo_huber(a, b, c), np.sqrt(sq + c**2) - c, rtol=1e-5)
  assert float(cm.pseudo_huber(a, a, c)[0]) == 0.0


# A 2-D Gaussian data set N(mu, cov): x_sigma ~ N(mu, cov + sigma^2 I), the denoiser is
# mu + cov (cov + sigma^2 I)^-1 (x - mu) and the PF-ODE carries x from sigma to sigma' by
# mu + (cov + sigma'^2 I)^(1/2) (cov + sigma^2 I)^(-1/2) (x - mu) (the matrices commute).
MU = np.array([1.0, -0.5])
COV = np.array([[0.3, 0.12], [0.12, 0.2]])
EVALS, EVECS = np.linalg.eigh(COV)


def _matrix(fn, sigma):
  """``[b, 2, 2]``: U diag(fn(evals, sigma)) U^T for each sigma of ``[b]``."""
  d = fn(jnp.asarray(EVALS)[None, :], sigma[:, None])
  return jnp.einsum('ij,bj,kj->bik', jnp.asarray(EVECS), d, jnp.asarray(EVECS))


def denoiser(sigma, x):
  m = _matrix(lambda e, s: e / (e + s**2), sigma)
  return MU + jnp.einsum('bij,bj->bi', m, x - MU)


def exact_f(sigma, x):
  m = _matrix(lambda e, s: jnp.sqrt((e + S.sigma_min**2) / (e + s**2)), sigma)
  return MU + jnp.einsum('bij,bj->bi', m, x - MU)


def exact_F(sigma, x):
  """The network whose `consistency_fn` is `exact_f` (any finite value at sigma_min)."""
  c_skip, c_out = cm.skip_out(sigma, S)
  safe = jnp.where(c_out > 0, c_out, 1.0)
  return jnp.where((c_out > 0)[:, None], (exact_f(sigma, x) - c_skip[:, None] * x)
                   / safe[:, None], 0.0)


def test_exact_consistency_function_samples_the_gaussian_in_one_and_two_steps():
  """One step from sigma_max z, and two with re-noising, give samples whose mean and covariance
  are the data's (+ sigma_min^2 I), within 4 standard errors of 100k samples."""
  f = cm.consistency_fn(exact_F, S)
  n = 100_000
  for sigmas in [(S.sigma_max,), cm.default_sigmas(2, S)]:
    x, info = cm.sample(f, jax.random.PRNGKey(0), (n, 2), sigmas, S)
    x = np.asarray(x, np.float64)
    assert info['nfe'] == len(sigmas)
    se = np.sqrt(np.diag(COV) / n)
    assert np.all(np.abs(x.mean(0) - MU) < 4 * se + 0.01 * np.abs(MU)), x.mean(0)
    np.testing.assert_allclose(np.cov(x.T), COV + S.sigma_min**2 * np.eye(2), atol=0.01)


def test_cd_loss_vanishes_at_the_exact_consistency_function_with_the_exact_teacher():
  """With the exact denoiser as teacher, one Heun step lands (up to its local error) on the
  trajectory, so the CD loss of the exact f is ~0 on a grid of 161 levels (Euler's larger
  error leaves more); a perturbed f pays."""
  x0 = jnp.asarray(np.random.default_rng(0).multivariate_normal(MU, COV, 4096), jnp.float32)
  fixed = cm.Schedule(s0=160, s1=160)
  exact = cm.consistency_fn(exact_F, fixed)
  wrong = cm.consistency_fn(lambda s, x: exact_F(s, x) + 0.1, fixed)
  n = cm.num_points(0, 100, fixed)
  weighted, d = cm.loss(exact, x0, jax.random.PRNGKey(1), n, fixed, denoiser=denoiser)
  bad, _ = cm.loss(wrong, x0, jax.random.PRNGKey(1), n, fixed, denoiser=denoiser)
  assert float(jnp.mean(d)) < 1e-6 and float(jnp.mean(weighted)) < 1e-5
  assert float(jnp.mean(bad)) > 1000 * float(jnp.mean(weighted))
  euler, _ = cm.loss(exact, x0, jax.random.PRNGKey(1), n, fixed, denoiser=denoiser,
                     solver='euler')
  assert float(jnp.mean(euler)) > 100 * float(jnp.mean(weighted))   # Heun's error is the smaller


def test_ct_distance_at_the_exact_function_shrinks_with_the_grid():
  """CT's two points lie on different trajectories: its distance at the exact f is not 0 but
  falls with the spacing of the grid (10 -> 1280 intervals)."""
  x0 = jnp.asarray(np.random.default_rng(0).multivariate_normal(MU, COV, 4096), jnp.float32)
  f = cm.consistency_fn(exact_F, S)
  coarse = cm.loss(f, x0, jax.random.PRNGKey(2), 11, S)[1]
  fine = cm.loss(f, x0, jax.random.PRNGKey(2), 1281, S)[1]
  assert float(jnp.mean(fine)) < float(jnp.mean(coarse)) / 20
