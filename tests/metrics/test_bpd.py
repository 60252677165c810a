"""jaxgen.metrics.bpd: the bits/dim offsets of every scaling, the papers' figures, and the
dequantized bound of a continuous density."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.data import DataSpec
from jaxgen.metrics import bpd as bpd_lib


def test_continuous_bpd_reproduces_nice_mnist_and_discrete_has_no_offset():
  """NICE's MNIST: 1980.50 nats per dequantized [0, 1] image of 784 8-bit pixels is
  8 - 1980.50 / (784 ln 2) = 4.36 bits/dim; a probability mass gets no bin offset."""
  spec = DataSpec('m', (28, 28, 1), 0.0, 1.0, 256, 10, 'unit')
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

  bpd, extra = bpd_lib.dequantized_bpd(log_prob, x, jax.random.PRNGKey(2), spec, num_draws=3)
  assert extra['log_prob'].shape == (3, 3)
  np.testing.assert_allclose(bpd, 8.0, atol=1e-5)
  np.testing.assert_allclose(extra['bpd_iw'], 8.0, atol=1e-5)
  assert abs(bpd_lib.offset_bits(spec) - offset) < 1e-12
