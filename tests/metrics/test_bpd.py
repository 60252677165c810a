"""jaxgen.metrics.bpd: the bits/dim offsets of every scaling, the papers' figures, and the
dequantized bound of a continuous density."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.data import DataSpec
from jaxgen.metrics import bpd as bpd_lib


def _draws(log_prob, x, rng, spec, n):
  """``[n, b]`` log-densities of `x`'s levels dequantized afresh n times (`bpd_lib.dequantize`)
  and the spec they are scored with."""
  keys = jax.random.split(rng, n)
  deq = [bpd_lib.dequantize(x, k, spec) for k in keys]
  return jnp.stack([log_prob(xc, k) for (xc, _), k in zip(deq, keys)]), deq[0][1]


def _mean_bpd(log_prob, x, rng, spec, n):
  lps, deq = _draws(log_prob, x, rng, spec, n)
  return jnp.mean(bpd_lib.bits_per_dim(lps, deq, discrete=False), axis=0), lps


def test_continuous_bpd_reproduces_nice_mnist_and_discrete_has_no_offset():
  """NICE's MNIST: 1980.50 nats per dequantized [0, 1] image of 784 8-bit pixels is
  8 - 1980.50 / (784 ln 2) = 4.36 bits/dim; a probability mass gets no bin offset."""
  spec = DataSpec('m', (28, 28, 1), 0.0, 1.0, 256, 10, 'unit', dequantized=True)
  bpd = float(bpd_lib.bits_per_dim(np.array([1980.50]), spec, False)[0])
  assert round(bpd, 2) == 4.36
  np.testing.assert_allclose(bpd, 8 - 1980.50 / (784 * math.log(2)))
  assert bpd_lib.offset_bits(spec) == 8.0
  np.testing.assert_allclose(bpd_lib.bits_per_dim(np.array([-784 * math.log(2)]), spec, True), 1.0)
  toy = DataSpec('toy2d:moons', (2,), -4.0, 4.0, None, None, 'none')
  assert bpd_lib.offset_bits(toy) == 0.0


@pytest.mark.parametrize('scale,low,high,offset', [('unit', 0.0, 1.0, 8.0),
                                                   ('symmetric', -1.0, 1.0, 7.0)])
@pytest.mark.parametrize('dequantized', [False, True])
def test_bpd_offsets_and_uniform_density(scale, low, high, offset, dequantized):
  """The uniform density on [low, high]^D scores exactly log2(K) = 8 bits/dim for 8-bit data,
  whichever the scaling: offset +8 on [0, 1] (log p = 0) and +7 on [-1, 1] (log p = -D log 2).
  The integer levels are recovered from both dequantized and plain data."""
  spec = DataSpec(name='t', shape=(4, 4, 1), low=low, high=high, num_levels=256, num_classes=None,
                  scale=scale, dequantized=dequantized)
  ints = jax.random.randint(jax.random.PRNGKey(0), (3, 4, 4, 1), 0, 256).astype(jnp.float32)
  if dequantized:
    unit = (ints + jax.random.uniform(jax.random.PRNGKey(1), ints.shape)) / 256
  else:
    unit = ints / 255
  x = low + (high - low) * unit
  np.testing.assert_array_equal(bpd_lib.integer_levels(x, spec), ints)
  seen = []

  def log_prob(xc, rng):
    seen.append(None)
    lvl = jnp.floor((xc - low) / (high - low) * 256)
    # The re-dequantized draw lies in the bin of its integer level.
    ok = jnp.all(lvl == ints)
    return jnp.where(ok, -16 * math.log(high - low), jnp.nan) * jnp.ones((3,))

  bpd, lps = _mean_bpd(log_prob, x, jax.random.PRNGKey(2), spec, 3)
  assert lps.shape == (3, 3)
  np.testing.assert_allclose(bpd, 8.0, atol=1e-5)
  assert abs(bpd_lib.offset_bits(spec) - offset) < 1e-12


def _spec(low, high, k, shape=(4, 4, 1), dequantized=True):
  return DataSpec('t', shape, low, high, k, None, 'unit', dequantized=dequantized)


@pytest.mark.parametrize('low,high', [(0.0, 1.0), (-1.0, 1.0), (0.0, 16.0)])
@pytest.mark.parametrize('k', [2, 17, 256])
def test_bits_per_dim_of_a_uniform_model_is_log2_k(low, high, k):
  """bits/dim of a uniform model = log2(K), exactly: the uniform density 1/(high - low)^D on
  dequantized data in [low, high] (continuous) and the uniform mass K^-D (discrete)."""
  spec = _spec(low, high, k)
  d = spec.dim
  continuous = bpd_lib.bits_per_dim(np.array([-d * math.log(high - low)]), spec, discrete=False)
  discrete = bpd_lib.bits_per_dim(np.array([-d * math.log(k)]), _spec(low, high, k,
                                                                       dequantized=False), True)
  np.testing.assert_allclose(continuous, math.log2(k), rtol=1e-12)
  np.testing.assert_allclose(discrete, math.log2(k), rtol=1e-12)


def test_bits_per_dim_refuses_non_dequantized_and_continuous_data():
  """A density on the grid points k / (K - 1) or on level-less data has no bits/dim."""
  with pytest.raises(ValueError, match='not dequantized'):
    bpd_lib.bits_per_dim(np.zeros(1), _spec(0.0, 1.0, 256, dequantized=False), False)
  toy = DataSpec('toy2d:moons', (2,), -4.0, 4.0, None, None, 'none')
  with pytest.raises(ValueError, match="continuous data.*'nll'"):
    bpd_lib.bits_per_dim(np.zeros(1), toy, False)
  assert bpd_lib.problem(toy, discrete=True) is None


def test_gaussian_on_dequantized_data_matches_the_closed_form():
  """N(mu, s^2) per dimension on x = (k + u) / K: E_u[(x - mu)^2] = ((k + 1/2)/K - mu)^2 +
  1/(12 K^2), so E[bpd] = mean_d[log(2 pi s^2)/2 + E(x - mu)^2 / (2 s^2)] / ln 2 + log2 K.
  The mean over n draws lies within 5 standard errors (n-derived) of it."""
  k, mu, s, n = 17, 0.4, 0.3, 4000
  spec = _spec(0.0, 1.0, k, shape=(8,))
  levels = jnp.arange(8, dtype=jnp.float32)[None] * 2     # 0, 2, ..., 14
  x = levels / (k - 1)                                       # the non-dequantized batch
  spec_in = _spec(0.0, 1.0, k, shape=(8,), dequantized=False)

  def log_prob(xc, rng):
    return jnp.sum(-0.5 * math.log(2 * math.pi * s * s) - (xc - mu) ** 2 / (2 * s * s), axis=-1)

  bpd, lps = _mean_bpd(log_prob, x, jax.random.PRNGKey(0), spec_in, n)
  sq = ((np.asarray(levels[0]) + 0.5) / k - mu) ** 2 + 1 / (12 * k * k)
  expected = np.mean(0.5 * math.log(2 * math.pi * s * s) + sq / (2 * s * s)) / math.log(2)
  expected += math.log2(k)
  per_draw = np.asarray(bpd_lib.bits_per_dim(lps, spec, False))[:, 0]
  sem = per_draw.std() / math.sqrt(n)
  assert abs(float(bpd[0]) - expected) < 5 * sem, (float(bpd[0]), expected, sem)


def test_the_same_model_on_0_1_and_on_minus1_1_has_the_same_bpd():
  """The Jacobian of y = 2x - 1: p_sym(y) = p_unit((y + 1)/2) / 2^D, and the offset drops from
  log2(K) to log2(K / 2), so the bits/dim agree for the same dequantization noise."""
  k = 256
  unit, sym = _spec(0.0, 1.0, k, dequantized=False), _spec(-1.0, 1.0, k, dequantized=False)
  ints = jax.random.randint(jax.random.PRNGKey(3), (5, 4, 4, 1), 0, k).astype(jnp.float32)
  x_unit = ints / (k - 1)

  def lp_unit(x, rng):   # a Beta(2, 3)-shaped density per pixel, in nats
    return jnp.sum(math.log(12.0) + jnp.log(x) + 2 * jnp.log1p(-x), axis=(1, 2, 3))

  def lp_sym(y, rng):
    return lp_unit((y + 1) / 2, rng) - 16 * math.log(2.0)

  key = jax.random.PRNGKey(4)
  b_unit, _ = _mean_bpd(lp_unit, x_unit, key, unit, 3)
  b_sym, _ = _mean_bpd(lp_sym, 2 * x_unit - 1, key, sym, 3)
  np.testing.assert_allclose(b_unit, b_sym, rtol=1e-5)


def test_dequantize_keeps_each_level_in_its_own_bin():
  """`dequantize`: levels recovered from k / (K - 1) land in [k / K, (k + 1) / K)."""
  ints = jnp.arange(17, dtype=jnp.float32).reshape(1, 17)
  spec = DataSpec('t', (17,), -1.0, 1.0, 17, None, 'symmetric')
  xc, out = bpd_lib.dequantize(2 * ints / 16 - 1, jax.random.PRNGKey(0), spec)
  assert out.dequantized and not spec.dequantized
  np.testing.assert_array_equal(jnp.floor((xc + 1) / 2 * 17), ints)
