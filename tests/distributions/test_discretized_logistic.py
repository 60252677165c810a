"""Discrete output likelihoods: normalization over 0..K-1, edge bins, and exact samplers.

Normalization of the RGB mixture is checked the way it holds mathematically: for every mixture
component and every value of the earlier channels, each channel's conditional sums to one over its
K levels (so the pixel's joint does too); the full joint over all K^3 values is summed only for a
small K (16^3 = 4096 values), not 256^3.
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.distributions import discretized_logistic as dl


@pytest.mark.parametrize('fallback', [True, False])
def test_grey_mixture_sums_to_one_over_256_levels(fallback):
  m = 5
  params = 2.0 * jax.random.normal(jax.random.PRNGKey(0), (64, dl.mixture_size(m, 1)))
  x = jnp.arange(256)[:, None, None]                              # [256, 1(batch), 1(channel)]
  lp = dl.logistic_mixture_log_prob(params[None], jnp.broadcast_to(x, (256, 64, 1)), m, 256,
                                    fallback)
  total = np.asarray(jnp.exp(lp).sum(0))
  # Exact form: 1 to float32 rounding. Reference fallback: bins < 1e-5 use pdf * bin width.
  np.testing.assert_allclose(total, 1.0, atol=1e-5 if not fallback else 1e-4)


def test_rgb_conditionals_sum_to_one_for_every_component_and_context():
  """P_ic(. | x_<c) sums to one for each component i, channel c and random earlier values."""
  m, k = 4, 256
  key = jax.random.PRNGKey(1)
  params = 2.0 * jax.random.normal(key, (32, dl.mixture_size(m, 3)))
  _, means, log_scales, coefs = dl.unpack_mixture(params, 3, m)
  ctx = jax.random.randint(jax.random.PRNGKey(2), (32, 3), 0, k)  # earlier channels' values
  for c in range(3):
    x = jnp.arange(k)
    ctx_c = jnp.broadcast_to(ctx[None], (k, 32, 3)).at[..., c].set(x[:, None])
    mu = dl.coupled_means(means, coefs, dl.to_symmetric(ctx_c, k))[..., c, :]   # [k,32,M]
    lp = dl.discretized_logistic_log_prob(x[:, None, None], mu, log_scales[..., c, :], k, False)
    np.testing.assert_allclose(np.asarray(jnp.exp(lp).sum(0)), 1.0, atol=1e-5)


def test_rgb_joint_sums_to_one_for_small_k():
  m, k = 3, 16
  params = 2.0 * jax.random.normal(jax.random.PRNGKey(3), (4, dl.mixture_size(m, 3)))
  grid = jnp.array(list(itertools.product(range(k), repeat=3)))          # [k^3, 3]
  lp = dl.logistic_mixture_log_prob(params[:, None], grid[None], m, k, False)
  np.testing.assert_allclose(np.asarray(jnp.exp(lp).sum(1)), 1.0, atol=1e-5)


def test_edge_bins_absorb_the_tails():
  """P(0) = sigmoid((-1 + 1/(K-1) - mu)/s) and P(K-1) = 1 - sigmoid((1 - 1/(K-1) - mu)/s)."""
  mu, ls, k = 0.3, -1.0, 256
  s = np.exp(ls)
  lp = dl.discretized_logistic_log_prob(jnp.array([0, 255]), mu, ls, k)
  sig = lambda z: 1 / (1 + np.exp(-z))
  np.testing.assert_allclose(np.exp(lp), [sig((-1 + 1 / 255 - mu) / s),
                                          1 - sig((1 - 1 / 255 - mu) / s)], rtol=1e-5)


def test_log_scale_clamp_and_reference_fallback():
  # A scale far below exp(-7) is clamped: identical to log_scale = -7.
  x = jnp.arange(256)
  a = dl.discretized_logistic_log_prob(x, 0.1, -20.0, 256)
  b = dl.discretized_logistic_log_prob(x, 0.1, -7.0, 256)
  np.testing.assert_array_equal(a, b)
  # In the far tail the reference falls back to log pdf(x) - log 127.5 ...
  mu, ls, v = 0.0, -3.0, 30      # P(bin) ~ 3e-8 < 1e-5
  xs = v / 127.5 - 1
  z = (xs - mu) / np.exp(ls)
  log_pdf = z - ls - 2 * np.log1p(np.exp(z))
  got = float(dl.discretized_logistic_log_prob(jnp.array(v), mu, ls, 256, fallback=True))
  np.testing.assert_allclose(got, log_pdf - np.log(127.5), rtol=1e-5)
  # ... which is close to the exact bin probability computed stably.
  exact = float(dl.discretized_logistic_log_prob(jnp.array(v), mu, ls, 256, fallback=False))
  assert np.isfinite(exact) and abs(exact - got) < 1e-3 * abs(exact)


def test_gradients_are_finite_everywhere():
  x = jnp.arange(256)
  for fb in (True, False):
    g = jax.grad(lambda m, s: dl.discretized_logistic_log_prob(x, m, s, 256, fb).sum(),
                 argnums=(0, 1))(0.999, -6.5)
    assert all(np.isfinite(np.asarray(v)) for v in g)


@pytest.mark.parametrize('channels', [1, 3])
def test_mixture_sampler_draws_the_likelihood(channels):
  """Empirical frequencies of the sampler match the probability mass (K = 4, chi-square-style)."""
  m, k, n = 2, 4, 40000
  params = jax.random.normal(jax.random.PRNGKey(4), (dl.mixture_size(m, channels),))
  x = dl.logistic_mixture_sample(jax.random.PRNGKey(5), jnp.broadcast_to(params, (n, params.size)),
                                 channels, m, k)
  grid = jnp.array(list(itertools.product(range(k), repeat=channels)))
  p = np.exp(np.asarray(dl.logistic_mixture_log_prob(params[None], grid, m, k, False)))
  codes = np.asarray(x) @ (k ** np.arange(channels)[::-1])
  freq = np.bincount(codes, minlength=k ** channels) / n
  np.testing.assert_allclose(freq, p, atol=4 * np.sqrt(p * (1 - p) / n).max() + 1e-3)


def test_bernoulli_and_categorical_are_normalized():
  logit = jnp.array([-2.0, 0.3, 5.0])
  total = jnp.exp(dl.bernoulli_log_prob(logit, jnp.zeros(3))) + jnp.exp(
      dl.bernoulli_log_prob(logit, jnp.ones(3)))
  np.testing.assert_allclose(total, 1.0, rtol=1e-6)
  logits = jax.random.normal(jax.random.PRNGKey(0), (7,))
  total = sum(jnp.exp(dl.categorical_log_prob(logits, jnp.array(v))) for v in range(7))
  np.testing.assert_allclose(total, 1.0, rtol=1e-5)


def test_pixel_output_rejects_impossible_settings():
  with pytest.raises(ValueError, match='binary'):
    dl.PixelOutput('bernoulli', 1, 256)
  with pytest.raises(ValueError, match='logistic_mixture'):
    dl.PixelOutput('categorical', 3, 256, per_channel=False)
