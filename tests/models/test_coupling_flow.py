"""Facts of the coupling-flow family (jaxgen.models.coupling_flow: RealNVP and Glow): the whole
flow inverts, its log-density is the change of variables, cold samples are the prior means'
image, and a config the architecture cannot build is one error line."""

import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from jaxgen.data import DataSpec
from jaxgen.models import coupling_flow
from launch import train as launch_train
from tests import refusal

IMG = DataSpec('test', (4, 4, 2), 0.0, 1.0, 256, None, 'unit', True)  # dequantized 8-bit
SMOKE = 'experiments/coupling_flow/fashion_mnist.py:smoke'

VARIANTS = {
    'glow_lu_affine': dict(flow='glow', permutation='invconv_lu'),
    'glow_invconv_additive': dict(flow='glow', permutation='invconv', coupling='additive'),
    'glow_shuffle_no_actnorm': dict(flow='glow', permutation='shuffle', actnorm=False),
    'realnvp_logit': dict(flow='realnvp', res_blocks=1, logit_alpha=0.05),
}


def _model(seed=0, **model):
  c = coupling_flow.defaults()
  c.data = ml_collections.ConfigDict({'dequantize': True})
  c.model.update(dict(levels=2, steps=2, hidden=8))
  c.model.update(model)
  m = coupling_flow.build(c, IMG)
  x = jax.random.uniform(jax.random.PRNGKey(seed), (6,) + IMG.shape)
  params = m.init(jax.random.PRNGKey(seed + 1), x)
  leaves, tree = jax.tree_util.tree_flatten(params)   # off the identity-like start
  keys = jax.random.split(jax.random.PRNGKey(seed + 2), len(leaves))
  params = jax.tree_util.tree_unflatten(
      tree, [v + 0.1 * jax.random.normal(k, v.shape) for v, k in zip(leaves, keys)])
  return c, m, params, x


@pytest.mark.parametrize('name', sorted(VARIANTS))
def test_flow_inverts_and_log_prob_is_the_change_of_variables(name):
  """decode(encode(x)) = x within 1e-5, and log_prob = sum log N(f(x)) + slogdet(df/dx) with the
  Jacobian of the whole 32-dim flow computed by jacfwd."""
  _, m, params, x = _model(**VARIANTS[name])
  eps = m.extras['encode'](params, x)
  assert eps.shape == (6, 32)
  np.testing.assert_allclose(m.extras['decode'](params, eps), x, atol=1e-5)
  lp = m.log_prob(params, {'x': x}, None)
  f = lambda v: m.extras['encode'](params, v.reshape((1,) + IMG.shape))[0]
  for i in range(2):
    v = x[i].reshape(-1)
    sign, logabs = jnp.linalg.slogdet(jax.jacfwd(f)(v))
    assert float(sign) != 0
    z = np.asarray(f(v), np.float64)
    brute = float(np.sum(-0.5 * z**2 - 0.5 * math.log(2 * math.pi)) + logabs)
    np.testing.assert_allclose(lp[i], brute, rtol=1e-5, atol=1e-3)


def test_loss_is_nats_per_dim_and_bpd_follows_the_nice_convention():
  """loss = -mean log p / D by default (nats per example with 'per_example'); bpd = 8 -
  LL / (D ln 2); the gradient is finite."""
  c, m, params, x = _model()
  lp = m.log_prob(params, {'x': x}, None)
  value, metrics = m.loss(params, {'x': x}, jax.random.PRNGKey(0))
  np.testing.assert_allclose(value, -jnp.mean(lp) / 32, rtol=1e-6)
  np.testing.assert_allclose(metrics['bpd'], 8 - float(jnp.mean(lp)) / (32 * math.log(2)),
                             rtol=1e-6)
  c.loss.reduction = 'per_example'
  np.testing.assert_allclose(coupling_flow.build(c, IMG).loss(params, {'x': x}, None)[0],
                             -jnp.mean(lp), rtol=1e-6)
  g = jax.grad(lambda p: m.loss(p, {'x': x}, None)[0])(params)
  assert all(bool(jnp.all(jnp.isfinite(v))) for v in jax.tree_util.tree_leaves(g))


@pytest.mark.parametrize('flow', ['glow', 'realnvp'])
def test_zero_temperature_samples_are_the_image_of_the_prior_means(flow):
  """T = 0 gives decode(0): every factored-out half at its (learned, conditional) prior mean, so
  encoding the sample gives eps = 0; samples at T = 1 are in the data range."""
  c, m, params, _ = _model(flow=flow)
  cold = m.sampling_settings({'temperature': 0.0, 'clip': False})
  x0, info = m.sample(params, jax.random.PRNGKey(0), 3, cold)
  assert info['nfe'] == 1 and x0.shape == (3,) + IMG.shape
  np.testing.assert_allclose(x0, m.extras['decode'](params, jnp.zeros((3, 32))), atol=1e-6)
  np.testing.assert_allclose(m.extras['encode'](params, x0), 0.0, atol=1e-4)
  settings = m.sampling_settings(c.sampling)  # hashable: a static jit argument
  x, _ = jax.jit(m.sample, static_argnums=(2, 3))(params, jax.random.PRNGKey(1), 4, settings)
  assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0


def test_inpaint_keeps_observed_pixels_and_raises_log_p():
  """NICE's gradient inpainting on this family: observed pixels unchanged, log p not lower."""
  c, m, params, x = _model()
  mask = jnp.zeros(IMG.shape, bool).at[:2].set(True)
  settings = m.sampling_settings({'inpaint_steps': 20})
  filled, info = m.extras['inpaint'](params, jax.random.PRNGKey(3), x, mask, settings)
  np.testing.assert_array_equal(jnp.where(mask, filled, 0), jnp.where(mask, x, 0))
  assert bool(jnp.all(info['log_prob'][-1] >= info['log_prob'][0] - 1e-3))


def test_architecture_of_each_flow():
  """Glow squeezes once per level and factors out after each level but the last; RealNVP
  squeezes levels - 1 times; the latent parts add up to the image size."""
  from jaxgen.models.coupling_flow import architecture

  glow = architecture.plan('glow', 3, 2, 'invconv_lu', True)
  assert [op[0] for op in glow].count('squeeze') == 3
  assert [op[0] for op in glow].count('factor') == 2
  nvp = architecture.plan('realnvp', 3, 3, 'invconv_lu', False)
  kinds = [op[0] for op in nvp]
  assert kinds.count('squeeze') == 2 and 'mix' not in kinds and 'actnorm' not in kinds
  assert kinds.count('coupling') == 2 * (3 + 3) + 4
  shapes = architecture.latent_shapes((32, 32, 3), glow)
  assert shapes == [(16, 16, 6), (8, 8, 12), (4, 4, 48)]
  assert sum(h * w * c for h, w, c in shapes) == 32 * 32 * 3


@pytest.mark.parametrize('override, pattern', [
    ('--config.model.levels=3', r"config\.model\.levels=3: .*divisible by 8.*model\.levels=2"),
    ('--config.data.dequantize=false', r'config\.data\.dequantize=False.*dequantize=true'),
    ('--config.model.permutation=lu', r"config\.model\.permutation='lu' is not allowed"),
    ('--config.model.logit_alpha=0.5', r'config\.model\.logit_alpha=0\.5 is out of range'),
])
def test_a_bad_config_is_one_error_line_and_nothing_written(override, pattern, capsys, tmp_path):
  work = tmp_path / 'w'
  refusal.refused(capsys, launch_train.main,
                  ['--config', SMOKE, '--workdir', str(work), override], pattern, str(tmp_path))
  assert not work.exists()
