"""Closed-form facts about the NICE family (jaxgen.models.nice)."""

import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from jaxgen.models import nice

try:
  from jaxgen.data import DataSpec
except ImportError:  # the data module may not exist yet; same fields as the contract's DataSpec
  import dataclasses

  @dataclasses.dataclass(frozen=True)
  class DataSpec:
    name: str
    shape: tuple
    low: float
    high: float
    num_levels: int | None
    num_classes: int | None
    scale: str
    dequantized: bool = False


def _config(**model):
  c = nice.defaults()
  c.data = ml_collections.ConfigDict({'dequantize': True})
  c.model.update(dict(num_couplings=3, hidden=32, depth=2, kernel_init='he', init_range=1.0))
  c.model.update(model)
  return c


IMG = DataSpec('test', (4, 4, 1), 0.0, 1.0, 256, None, 'unit', True)  # dequantized 8-bit
TOY = DataSpec('toy2d:test', (2,), -4.0, 4.0, None, None, 'none')


def _model(spec=IMG, seed=0, random_scale=True, **model):
  config = _config(**model)
  m = nice.build(config, spec)
  x = jax.random.uniform(jax.random.PRNGKey(seed), (8,) + spec.shape)
  params = m.init(jax.random.PRNGKey(seed + 1), x)
  if random_scale:
    params['log_scale'] = 0.3 * jax.random.normal(jax.random.PRNGKey(seed + 2),
                                                  params['log_scale'].shape)
  return config, m, params, x


@pytest.mark.parametrize('split', ['odd_even', 'halves', 'checkerboard'])
def test_decode_inverts_encode(split):
  """decode(encode(x)) = x and encode(decode(h)) = h to float32 tolerance."""
  _, m, params, x = _model(split=split)
  h = m.extras['encode'](params, x)
  assert h.shape == (8, 16)
  assert float(jnp.max(jnp.abs(h - x.reshape(8, 16)))) > 1e-2  # a non-trivial map
  np.testing.assert_allclose(m.extras['decode'](params, h), x, atol=1e-5)
  h2 = jax.random.logistic(jax.random.PRNGKey(5), (8, 16))
  np.testing.assert_allclose(m.extras['encode'](params, m.extras['decode'](params, h2)), h2,
                             atol=1e-4)


def test_log_det_is_sum_of_scales_and_matches_slogdet():
  """log|det df/dx| = sum_d s_d for every x: couplings are volume preserving."""
  _, m, params, x = _model()
  _, log_det = m.extras['forward'](params, x)
  np.testing.assert_allclose(log_det, jnp.sum(params['log_scale']), rtol=1e-6)
  f = lambda v: m.extras['encode'](params, v.reshape((1,) + IMG.shape))[0]
  for i in range(3):
    jac = jax.jacfwd(f)(x[i].reshape(-1))
    sign, logabsdet = jnp.linalg.slogdet(jac.astype(jnp.float64) if jax.config.x64_enabled
                                         else jac)
    assert float(sign) == 1.0
    np.testing.assert_allclose(logabsdet, jnp.sum(params['log_scale']), atol=1e-4)


def _logistic_logpdf(h):
  # log of e^{-h} / (1 + e^{-h})^2, written independently of the model's softplus form.
  h = np.asarray(h, np.float64)
  return -np.abs(h) - 2.0 * np.log1p(np.exp(-np.abs(h)))


@pytest.mark.parametrize('prior', ['logistic', 'gaussian'])
def test_zero_couplings_give_the_scaled_prior(prior):
  """With every coupling output zero, log p(x) = sum_d log p_H(x_d e^{s_d}) + sum_d s_d."""
  _, m, params, x = _model(prior=prior, kernel_init='he', init_range=0.0)
  s = np.asarray(params['log_scale'], np.float64)
  h = np.asarray(x, np.float64).reshape(8, -1) * np.exp(s)
  if prior == 'logistic':
    expected = _logistic_logpdf(h).sum(-1) + s.sum()
  else:
    expected = (-0.5 * h**2 - 0.5 * np.log(2 * np.pi)).sum(-1) + s.sum()
  np.testing.assert_allclose(m.log_prob(params, {'x': x}, None), expected, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize('prior', ['logistic', 'gaussian'])
def test_2d_density_integrates_to_one(prior):
  """Riemann sum of exp(log p) on [-L, L]^2 is 1 within 5e-3.

  Tolerance: the midpoint sum on an h = 0.04 grid has error O(h^2) times the density's
  curvature (the ReLU couplings make it only piecewise smooth, so there is no spectral
  convergence), and the mass outside the box is below 1e-4 here (prior tails at |h| > 12 are
  e^-12 for the logistic, far less for the Gaussian; scales and shifts are O(1)).
  """
  _, m, params, _ = _model(TOY, prior=prior, num_couplings=4, hidden=16, depth=2,
                           init_range=0.5, random_scale=False)
  params['log_scale'] = jnp.array([0.2, -0.3])
  lim, n = 16.0, 800
  u = (np.arange(n) + 0.5) / n * 2 * lim - lim
  xx, yy = np.meshgrid(u, u, indexing='ij')
  grid = jnp.asarray(np.stack([xx.ravel(), yy.ravel()], -1), jnp.float32)
  lp = jax.jit(lambda g: m.log_prob(params, {'x': g}, None))(grid)
  total = float(jnp.sum(jnp.exp(lp))) * (u[1] - u[0])**2
  assert abs(total - 1.0) < 5e-3, total  # measured: 3e-4 (logistic tails), 1e-7 (Gaussian)


def test_loss_reductions_and_metrics():
  config, m, params, x = _model()
  lp = m.log_prob(params, {'x': x}, None)  # the batch dict of the Model contract
  np.testing.assert_array_equal(m.extras['log_density'](params, x), lp)
  value, metrics = m.loss(params, {'x': x}, jax.random.PRNGKey(0))
  np.testing.assert_allclose(value, -jnp.mean(lp), rtol=1e-6)  # default: nats per example
  np.testing.assert_allclose(metrics['nll_nats'], -jnp.mean(lp), rtol=1e-6)
  np.testing.assert_allclose(metrics['bpd'], 8 - float(jnp.mean(lp)) / (16 * math.log(2)),
                             rtol=1e-6)
  config.loss.reduction = 'per_dim'
  value2, _ = nice.build(config, IMG).loss(params, {'x': x}, None)
  np.testing.assert_allclose(value2, -jnp.mean(lp) / 16, rtol=1e-6)
  g = jax.grad(lambda p: m.loss(p, {'x': x}, None)[0])(params)
  assert all(bool(jnp.all(jnp.isfinite(v))) for v in jax.tree_util.tree_leaves(g))


def test_sample_shapes_range_and_zero_temperature():
  config, m, params, _ = _model()
  settings = m.sampling_settings(config.sampling)  # hashable, a static jit argument
  x, info = jax.jit(m.sample, static_argnums=(2, 3))(params, jax.random.PRNGKey(0), 5, settings)
  assert x.shape == (5, 4, 4, 1) and info['nfe'] == 1
  assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
  cold = m.sampling_settings({'temperature': 0.0, 'clip': False})
  x0, _ = m.sample(params, jax.random.PRNGKey(0), 2, cold)
  np.testing.assert_allclose(x0, m.extras['decode'](params, jnp.zeros((2, 16))), atol=1e-6)


def test_schema_validates_and_rejects_bad_values():
  cfg = pytest.importorskip('jaxgen.runtime.config')
  config = cfg.base('nice')
  assert config.model.num_couplings == 4 and config.model.hidden == 1000
  assert config.model.depth == 5 and config.model.prior == 'logistic'
  cfg.validate(config)
  config.model.prior = 'cauchy'
  with pytest.raises(cfg.ConfigError):
    cfg.validate(config)
