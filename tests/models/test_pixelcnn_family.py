"""The PixelCNN family as a Model: an exactly normalized distribution over integer images.

(Named test_pixelcnn_family.py, not test_pixelcnn.py, so that it does not collide with
tests/nets/test_pixelcnn.py: tests/models has no __init__.py.)
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.data import DataSpec
from jaxgen.models import pixelcnn


def _config(net, output='auto', **model):
  c = pixelcnn.defaults()
  c.model.net = net
  c.model.output = output
  c.model.filters = 6
  c.model.blocks = 1
  c.model.scales = 1
  c.model.num_mixtures = 2
  c.model.update(model)
  return c


def _spec(shape, k, scale='levels', classes=None):
  low, high = {'levels': (0.0, k - 1.0), 'unit': (0.0, 1.0), 'symmetric': (-1.0, 1.0)}[scale]
  return DataSpec('synthetic', shape, low, high, k, classes, scale)


def _all_images(shape, k, spec):
  grid = np.array(list(itertools.product(range(k), repeat=int(np.prod(shape)))), np.float32)
  return spec.low + grid.reshape(-1, *shape) * (spec.high - spec.low) / (k - 1)


@pytest.mark.parametrize('net,output,shape,k', [
    ('pixelcnn', 'auto', (2, 2, 1), 3),
    ('gated', 'categorical', (2, 2, 1), 3),
    ('gated', 'logistic_mixture', (1, 2, 2), 3),
    ('pixelcnn', 'bernoulli', (2, 1, 3), 2),
    ('pixelcnn_pp', 'logistic_mixture', (2, 1, 2), 4),
])
def test_probabilities_of_all_images_sum_to_one(net, output, shape, k):
  """sum over every image in {0..K-1}^(HWC) of exp(log_prob) = 1 (the chain rule is exact)."""
  config = _config(net, output, fallback=False)
  spec = _spec(shape, k, 'symmetric' if net == 'gated' else 'levels')
  model = pixelcnn.build(config, spec)
  x = jnp.asarray(_all_images(shape, k, spec))
  params = model.init(jax.random.PRNGKey(0), x[:2])
  params = jax.tree.map(lambda p: p + 0.3 * jax.random.normal(jax.random.PRNGKey(1), p.shape),
                        params)   # away from the near-uniform init
  lp = model.log_prob(params, {'x': x}, None)
  assert lp.shape == (x.shape[0],)
  np.testing.assert_allclose(float(jnp.exp(lp).sum()), 1.0, atol=1e-5)


def test_fast_samples_follow_log_prob():
  """Frequencies of 20000 fast samples of 2x2 images with K = 3 match exp(log_prob)."""
  shape, k, n = (2, 2, 1), 3, 20000
  config = _config('gated', 'categorical')
  spec = _spec(shape, k)
  model = pixelcnn.build(config, spec)
  x = jnp.asarray(_all_images(shape, k, spec))
  params = model.init(jax.random.PRNGKey(0), x[:2])
  params = jax.tree.map(lambda p: p + 0.5 * jax.random.normal(jax.random.PRNGKey(2), p.shape),
                        params)
  p = np.exp(np.asarray(model.log_prob(params, {'x': x}, None)))
  settings = model.sampling_settings(config.sampling)
  samples, info = jax.jit(lambda r: model.sample(params, r, n, settings))(
      jax.random.PRNGKey(3))
  assert int(info['nfe']) == 4
  codes = np.asarray(samples).reshape(n, -1).astype(int) @ (k ** np.arange(4)[::-1])
  freq = np.bincount(codes, minlength=k ** 4) / n
  np.testing.assert_allclose(freq, p, atol=4 * np.sqrt(p * (1 - p) / n).max() + 1e-3)


def test_loss_metrics_and_sample_space():
  config = _config('pixelcnn', num_classes=3)
  config.sampling.num_samples = 3
  spec = _spec((3, 3, 1), 4, 'unit', classes=3)
  model = pixelcnn.build(config, spec)
  x = jnp.round(jax.random.uniform(jax.random.PRNGKey(0), (5, 3, 3, 1)) * 3) / 3
  batch = {'x': x, 'label': jnp.array([0, 1, 2, 0, 1])}
  params = model.init(jax.random.PRNGKey(0), x)
  loss, metrics = model.loss(params, batch, jax.random.PRNGKey(1))
  lp = model.log_prob(params, batch, None)          # conditional: the batch dict carries labels
  np.testing.assert_allclose(metrics['nll_nats'], -lp.mean(), rtol=1e-5)
  np.testing.assert_allclose(loss, -lp.mean() / 9, rtol=1e-5)                # per_dim
  np.testing.assert_allclose(metrics['bpd'], -lp.mean() / (9 * np.log(2)), rtol=1e-5)
  with pytest.raises(ValueError, match='label'):
    model.log_prob(params, {'x': x}, None)
  s, _ = model.sample(params, jax.random.PRNGKey(2), 3, model.sampling_settings(config.sampling))
  assert s.shape == (3, 3, 3, 1)
  np.testing.assert_allclose(np.asarray(s) * 3, np.round(np.asarray(s) * 3), atol=1e-6)  # on grid


def test_build_rejects_data_it_cannot_model():
  config = _config('gated')
  with pytest.raises(ValueError, match='continuous'):
    pixelcnn.build(config, DataSpec('toy2d:moons', (2,), -4.0, 4.0, None, None, 'none'))
  with pytest.raises(ValueError, match='dequantize'):
    pixelcnn.build(config, DataSpec('x', (4, 4, 1), 0.0, 1.0, 256, None, 'unit', True))
  with pytest.raises(ValueError, match='binary'):
    pixelcnn.build(_config('gated', 'bernoulli'), _spec((4, 4, 1), 256))
