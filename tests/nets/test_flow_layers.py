"""Facts of the invertible layers of image flows (jaxgen.nets.flow_layers, flow_coupling): each
inverts, its log-det is the slogdet of its Jacobian, and a stack of them is a normalised density."""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jaxgen.nets import flow_coupling, flow_layers

SHAPE = (1, 4, 4, 4)  # one image of 4 x 4 pixels and 4 channels: a 64 x 64 Jacobian


def _perturbed(layer, x, scale=0.3, seed=0, **kwargs):
  """The layer's parameters initialised on ``x`` and moved off their (often identity) start."""
  params = layer.init(jax.random.PRNGKey(seed), x, **kwargs)
  leaves, tree = jax.tree_util.tree_flatten(params)
  keys = jax.random.split(jax.random.PRNGKey(seed + 1), len(leaves))
  return jax.tree_util.tree_unflatten(
      tree, [v + scale * jax.random.normal(k, v.shape) for v, k in zip(leaves, keys)])


LAYERS = {
    'actnorm': lambda: flow_layers.ActNorm(),
    'invconv': lambda: flow_layers.InvConv1x1(lu=False, seed=3),
    'invconv_lu': lambda: flow_layers.InvConv1x1(lu=True, seed=3),
    'reverse': lambda: flow_layers.Permute('reverse'),
    'shuffle': lambda: flow_layers.Permute('shuffle', seed=1),
    'squeeze': lambda: flow_layers.Squeeze(),
    'logit': lambda: flow_layers.Logit(0.05, 0.0, 1.0),
    'split_prior': lambda: flow_coupling.SplitPrior(),
    'affine_checkerboard_tanh_0': lambda: flow_coupling.Coupling('checkerboard', 0, 'affine',
                                                                 'tanh', hidden=8),
    'affine_checkerboard_sigmoid_1': lambda: flow_coupling.Coupling('checkerboard', 1, 'affine',
                                                                    'sigmoid', hidden=8),
    'affine_channel_sigmoid_0': lambda: flow_coupling.Coupling('channel', 0, 'affine', 'sigmoid',
                                                               hidden=8),
    'affine_channel_tanh_1_res': lambda: flow_coupling.Coupling('channel', 1, 'affine', 'tanh',
                                                                hidden=8, res_blocks=1),
    'additive_checkerboard': lambda: flow_coupling.Coupling('checkerboard', 0, 'additive',
                                                            hidden=8),
}


@pytest.mark.parametrize('name', sorted(LAYERS))
def test_layer_inverts_and_its_log_det_is_the_jacobian_slogdet(name):
  """x -> y -> x within 1e-5; the forward log-det equals slogdet(jacfwd) and the inverse's is its
  negative."""
  layer = LAYERS[name]()
  x = jax.random.uniform(jax.random.PRNGKey(7), (3,) + SHAPE[1:], minval=0.05, maxval=0.95)
  params = _perturbed(layer, x)
  y, log_det = layer.apply(params, x)
  x_back, inv_log_det = layer.apply(params, y, inverse=True)
  np.testing.assert_allclose(x_back, x, atol=1e-5)
  np.testing.assert_allclose(inv_log_det, -log_det, rtol=1e-5, atol=1e-5)
  assert log_det.shape == (3,)
  if name not in ('reverse', 'shuffle', 'squeeze', 'additive_checkerboard'):
    assert float(jnp.max(jnp.abs(log_det))) > 1e-2, log_det  # a volume-changing map here
  for i in range(3):
    f = lambda v: layer.apply(params, v.reshape(SHAPE))[0].reshape(-1)
    sign, logabs = jnp.linalg.slogdet(jax.jacfwd(f)(x[i].reshape(-1)))
    assert float(sign) != 0
    np.testing.assert_allclose(log_det[i], logabs, rtol=1e-4, atol=1e-4)


def test_conditional_coupling_inverts_given_its_context():
  """With a context, the map of x stays invertible and its log-det is slogdet of d y / d x."""
  layer = flow_coupling.Coupling('channel', 0, 'affine', 'sigmoid', hidden=8)
  x = jax.random.normal(jax.random.PRNGKey(0), SHAPE)
  ctx = jax.random.normal(jax.random.PRNGKey(1), SHAPE[:-1] + (2,))
  params = _perturbed(layer, x, seed=2, context=ctx)
  y, log_det = layer.apply(params, x, context=ctx)
  np.testing.assert_allclose(layer.apply(params, y, inverse=True, context=ctx)[0], x, atol=1e-5)
  f = lambda v: layer.apply(params, v.reshape(SHAPE), context=ctx)[0].reshape(-1)
  np.testing.assert_allclose(log_det[0], jnp.linalg.slogdet(jax.jacfwd(f)(x.reshape(-1)))[1],
                             rtol=1e-4, atol=1e-4)
  assert float(jnp.abs(y - layer.apply(params, x, context=2 * ctx)[0]).max()) > 1e-3


def test_actnorm_init_gives_zero_mean_unit_variance_per_channel():
  """On the initialising batch the output has mean 0 and variance 1 in every channel."""
  x = 3.0 + jnp.array([0.5, 2.0, 7.0]) * jax.random.normal(jax.random.PRNGKey(0), (16, 4, 4, 3))
  layer = flow_layers.ActNorm()
  y, _ = layer.apply(layer.init(jax.random.PRNGKey(1), x), x)
  np.testing.assert_allclose(jnp.mean(y, axis=(0, 1, 2)), 0.0, atol=1e-5)
  np.testing.assert_allclose(jnp.var(y, axis=(0, 1, 2)), 1.0, rtol=1e-4)


def test_lu_and_plain_invconv_start_as_the_same_rotation():
  """Both forms start from the seed's rotation: the same map, log-det 0; the LU form's log-det
  is h w sum(log_s), read off its parameters."""
  x = jax.random.normal(jax.random.PRNGKey(0), SHAPE)
  plain, lu = flow_layers.InvConv1x1(False, 5), flow_layers.InvConv1x1(True, 5)
  yp, ldp = plain.apply(plain.init(jax.random.PRNGKey(1), x), x)
  params = lu.init(jax.random.PRNGKey(2), x)
  yl, ldl = lu.apply(params, x)
  np.testing.assert_allclose(yl, yp, atol=1e-5)
  np.testing.assert_allclose(ldp, 0.0, atol=1e-4)
  np.testing.assert_allclose(ldl, 0.0, atol=1e-5)
  params = jax.tree_util.tree_map(lambda v: v + 0.2, params)
  np.testing.assert_allclose(lu.apply(params, x)[1], 16 * jnp.sum(params['params']['log_s']),
                             rtol=1e-5)


def test_split_prior_log_density_is_the_conditional_gaussian():
  """log N(eps; 0, I) + log_det = log N(z2; mu(z1), diag sigma(z1)^2), mu and log sigma the
  prior conv of z1 (checked with scipy's normal density)."""
  layer = flow_coupling.SplitPrior()
  z = jax.random.normal(jax.random.PRNGKey(0), (2, 4, 4, 6))
  params = _perturbed(layer, z)
  out, log_det = layer.apply(params, z)
  np.testing.assert_array_equal(out[..., :3], z[..., :3])   # z1 passes through
  eps = np.asarray(out[..., 3:], np.float64)
  ours = stats.norm.logpdf(eps).reshape(2, -1).sum(-1) + np.asarray(log_det)
  h = nn.Conv(6, (3, 3)).apply({'params': params['params']['prior']}, z[..., :3])
  mu, sigma = np.asarray(h[..., 0::2], np.float64), np.exp(np.asarray(h[..., 1::2], np.float64))
  closed = stats.norm.logpdf(np.asarray(z[..., 3:], np.float64), mu, sigma).reshape(2, -1).sum(-1)
  np.testing.assert_allclose(ours, closed, rtol=1e-5)


def test_squeeze_moves_each_2x2_block_into_channels():
  """squeeze takes pixel (2i + di, 2j + dj, k) to (i, j, 4k + 2di + dj); unsqueeze undoes it."""
  x = jnp.arange(2 * 4 * 6 * 3, dtype=jnp.float32).reshape(2, 4, 6, 3)
  y = flow_layers.squeeze(x)
  assert y.shape == (2, 2, 3, 12)
  assert float(y[1, 1, 2, 4 * 2 + 2 * 1 + 0]) == float(x[1, 3, 4, 2])
  np.testing.assert_array_equal(flow_layers.unsqueeze(y), x)


def test_a_two_dimensional_flow_integrates_to_one():
  """A 2-D stack (ActNorm, LU 1x1 conv, affine couplings of both bounds, a reversal, the split
  prior) on points viewed as 1 x 1 images with 2 channels: the midpoint sum of exp(log p) over
  [-L, L]^2 is 1 within 5e-3 (grid h = 0.04; the mass outside the box is negligible)."""
  layers = [flow_layers.ActNorm(), flow_layers.InvConv1x1(True, 0),
            flow_coupling.Coupling('channel', 0, 'affine', 'sigmoid', hidden=8),
            flow_layers.Permute('reverse'),
            flow_coupling.Coupling('channel', 1, 'affine', 'tanh', hidden=8),
            flow_coupling.SplitPrior()]
  data = 2.0 * jax.random.normal(jax.random.PRNGKey(0), (64, 1, 1, 2)) + 0.5
  params, z = [], data
  for i, layer in enumerate(layers):
    params.append(_perturbed(layer, z, scale=0.2, seed=10 * i))
    z = layer.apply(params[-1], z)[0]

  def log_p(points):
    z, total = points.reshape(-1, 1, 1, 2), 0.0
    for layer, p in zip(layers, params):
      z, ld = layer.apply(p, z)
      total = total + ld
    return total + jnp.sum(-0.5 * z.reshape(-1, 2)**2 - 0.5 * math.log(2 * math.pi), axis=-1)

  lim, n = 16.0, 800
  u = (np.arange(n) + 0.5) / n * 2 * lim - lim
  xx, yy = np.meshgrid(u, u, indexing='ij')
  lp = jax.jit(log_p)(jnp.asarray(np.stack([xx.ravel(), yy.ravel()], -1), jnp.float32))
  total = float(jnp.sum(jnp.exp(lp))) * (u[1] - u[0])**2
  assert abs(total - 1.0) < 5e-3, total


def test_masks_partition_as_documented():
  """Checkerboard parities are complements; the channel mask conditions on the first floor(c/2)
  channels (parity 0) or the rest (parity 1)."""
  a, b = flow_coupling.mask((3, 3, 2), 'checkerboard', 0), flow_coupling.mask((3, 3, 2),
                                                                               'checkerboard', 1)
  np.testing.assert_array_equal(a + b, 1.0)
  assert a[0, 0, 0] == 1 and a[0, 1, 1] == 0
  m = flow_coupling.mask((2, 2, 5), 'channel', 0)
  np.testing.assert_array_equal(m[0, 0], [1, 1, 0, 0, 0])
  np.testing.assert_array_equal(flow_coupling.mask((2, 2, 5), 'channel', 1)[1, 1], [0, 0, 1, 1, 1])
