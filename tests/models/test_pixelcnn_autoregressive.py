"""The cached fast sampler draws exactly the plain sampler's images for the same key."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.distributions.discretized_logistic import PixelOutput
from jaxgen.nets.pixelcnn import GatedPixelCNN, PixelCNN
from jaxgen.nets.pixelcnn_pp import PixelCNNPP
from jaxgen.models.pixelcnn import autoregressive as ar


@pytest.mark.parametrize('cls', [PixelCNN, GatedPixelCNN])
@pytest.mark.parametrize('channels,kind,levels', [(1, 'bernoulli', 2), (3, 'categorical', 8),
                                                  (3, 'logistic_mixture', 16)])
def test_fast_sampler_equals_plain_sampler(cls, channels, kind, levels):
  out = PixelOutput(kind, channels, levels, num_mixtures=2, per_channel=True)
  net = cls(channels=channels, out_size=out.size, filters=6, blocks=2, num_classes=3)
  shape = (4, 5, channels)
  label = jnp.array([0, 1, 2])
  variables = net.init(jax.random.PRNGKey(0), jnp.zeros((1, *shape)), label[:1])
  key = jax.random.PRNGKey(7)
  plain = jax.jit(lambda k: ar.plain(lambda x, l: net.apply(variables, x, l), out, shape, k, 3,
                                     label))(key)
  fast = jax.jit(lambda k: ar.fast(net, variables, out, shape, k, 3, label))(key)
  np.testing.assert_array_equal(np.asarray(fast), np.asarray(plain))
  assert plain.dtype == jnp.int32 and plain.min() >= 0 and plain.max() < levels
  # Different keys give different images (the samplers do use their keys).
  other = jax.jit(lambda k: ar.fast(net, variables, out, shape, k, 3, label))(
      jax.random.PRNGKey(8))
  assert not np.array_equal(np.asarray(other), np.asarray(fast))


def test_fast_sampler_refuses_a_net_without_the_cached_path():
  """A net lacking init_cache / row_step / pixel_step / write_input gets a NotImplementedError
  naming the missing methods and the 'plain' fix (every family net has them now)."""

  class NoCache(nn.Module):
    @nn.compact
    def __call__(self, x, label=None):
      return nn.Dense(2)(x)

  out = PixelOutput('bernoulli', 1, 2, per_channel=True)
  assert ar.fast_path_missing(PixelCNNPP) == []
  assert ar.fast_path_missing(NoCache) == ['init_cache', 'row_step', 'pixel_step', 'write_input']
  with pytest.raises(NotImplementedError, match="init_cache.*sampling.method='plain'"):
    ar.fast(NoCache(), {}, out, (2, 2, 1), jax.random.PRNGKey(1), 2)
