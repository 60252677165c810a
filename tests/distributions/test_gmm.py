"""Closed-form facts about `tests.distributions.gmm.GaussianMixture`."""

import jax
import jax.numpy as jnp
import numpy as np

from tests.distributions import gmm


def _grid(lim=6.0, n=301):
  u = np.linspace(-lim, lim, n)
  xx, yy = np.meshgrid(u, u, indexing='ij')
  return jnp.asarray(np.stack([xx.ravel(), yy.ravel()], -1), jnp.float32), (u[1] - u[0])**2


def test_density_integrates_to_one_on_2d_grid():
  """Riemann sum of exp(log_prob) over [-6,6]^2 equals 1 (full and diagonal covariances)."""
  x, cell = _grid()
  for mix in (gmm.example_2d(),
              gmm.GaussianMixture.make([1., 2.], [[0., 1.], [1., -1.]], [[0.2, 0.5], [0.3, 0.1]])):
    total = float(jnp.sum(jnp.exp(mix.log_prob(x))) * cell)
    assert abs(total - 1.0) < 1e-3, total


def test_diagonal_equals_full():
  """A diagonal mixture has the same density as its full-covariance copy."""
  mix = gmm.GaussianMixture.make([1., 2.], [[0., 1.], [1., -1.]], [[0.2, 0.5], [0.3, 0.1]])
  full = gmm.GaussianMixture(mix.weights, mix.means, mix.full_covs())
  x = jax.random.normal(jax.random.PRNGKey(0), (16, 2))
  np.testing.assert_allclose(mix.log_prob(x), full.log_prob(x), rtol=1e-5, atol=1e-5)


def test_score_matches_finite_differences():
  """score = grad log p: central differences (h=1e-3, float64 reference in numpy) agree."""
  mix = gmm.example_2d()
  x = jax.random.normal(jax.random.PRNGKey(1), (8, 2))
  s = np.asarray(mix.score(x))
  h = 1e-2
  fd = np.zeros_like(s)
  for i in range(2):
    e = np.zeros(2, np.float32); e[i] = h
    fd[:, i] = (np.asarray(mix.log_prob(x + e)) - np.asarray(mix.log_prob(x - e))) / (2 * h)
  # Central differences have O(h^2) error; float32 rounding ~1e-6/h.
  np.testing.assert_allclose(s, fd, rtol=2e-3, atol=2e-3)


def test_sample_moments_match_closed_form():
  """Sample mean/cov of n=20000 draws match the law of total covariance within ~5 std errors."""
  mix = gmm.example_2d()
  n = 20000
  x = np.asarray(mix.sample(jax.random.PRNGKey(2), n))
  m, c = np.asarray(mix.mean()), np.asarray(mix.covariance())
  se = np.sqrt(np.diag(c) / n)
  assert np.all(np.abs(x.mean(0) - m) < 5 * se)
  # Std error of a covariance entry is ~sqrt((c_ii c_jj + c_ij^2) / n) <= ~0.012 here; allow ~3x.
  np.testing.assert_allclose(np.cov(x.T), c, atol=0.04)


def test_diffuse_is_law_of_alpha_x_plus_sigma_z():
  """diffuse(a, s) has mean a*m and covariance a^2 C + s^2 I, and its samples agree with it."""
  mix = gmm.example_2d()
  a, s = 0.6, 0.8
  dm = mix.diffuse(a, s)
  np.testing.assert_allclose(dm.mean(), a * mix.mean(), atol=1e-6)
  np.testing.assert_allclose(dm.covariance(), a**2 * mix.covariance() + s**2 * np.eye(2), atol=1e-5)
  # Densities: log p of the diffused mixture integrates to 1 as well.
  x, cell = _grid(lim=8.0)
  assert abs(float(jnp.sum(jnp.exp(dm.log_prob(x))) * cell) - 1.0) < 1e-3


def test_per_example_diffused_score_and_jit():
  """diffused_score with per-example (alpha, sigma) equals the scalar version row by row, in jit."""
  mix = gmm.example_2d()
  x = jax.random.normal(jax.random.PRNGKey(3), (4, 2))
  a = jnp.array([1.0, 0.5, 0.2, 0.9])
  s = jnp.sqrt(1 - a**2) + 1e-2
  got = jax.jit(gmm.diffused_score)(mix, a, s, x)
  want = jax.jit(jax.vmap(lambda ai, si, xi: mix.diffuse(ai, si).score(xi[None])[0]))(a, s, x)
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_diffused_closed_forms_match_autodiff_of_diffuse():
  """The eigenbasis closed forms equal diffuse(a, s).log_prob and its autodiff score."""
  a, s = jnp.array([1.0, 0.3, 0.01]), jnp.array([0.01, 0.9, 1.0])
  x = jax.random.normal(jax.random.PRNGKey(4), (3, 2))
  for mix in (gmm.example_2d(),
              gmm.GaussianMixture.make([1., 2.], [[0., 1.], [1., -1.]], [[0.2, 0.5], [0.3, 0.1]])):
    lp = gmm.diffused_log_prob(mix, a, s, x)
    sc = gmm.diffused_score(mix, a, s, x)
    ref = jax.jit(jax.vmap(lambda ai, si, xi: (mix.diffuse(ai, si).log_prob(xi[None])[0],
                                               mix.diffuse(ai, si).score(xi[None])[0])))
    want_lp, want_sc = ref(a, s, x)
    np.testing.assert_allclose(lp, want_lp, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(sc, want_sc, rtol=1e-4, atol=1e-4)
