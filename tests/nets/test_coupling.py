"""Facts about NICE's additive coupling (jaxgen.nets.coupling)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.nets import coupling


@pytest.mark.parametrize('shape,split', [((6,), 'odd_even'), ((5,), 'halves'),
                                         ((4, 4, 1), 'odd_even'), ((4, 4, 3), 'checkerboard'),
                                         ((28, 28, 1), 'odd_even')])
def test_partition_is_a_partition_and_layers_alternate(shape, split):
  """Parts are disjoint and cover 0..D-1; layer k conditions on part k % 2."""
  dim = int(np.prod(shape))
  p0, p1 = coupling.partition(shape, split)
  np.testing.assert_array_equal(np.sort(np.concatenate([p0, p1])), np.arange(dim))
  c0, u0 = coupling.layer_parts(shape, split, 0)
  c1, u1 = coupling.layer_parts(shape, split, 1)
  np.testing.assert_array_equal(c0, u1)
  np.testing.assert_array_equal(u0, c1)


def test_odd_even_is_the_papers_split():
  p0, p1 = coupling.partition((784,), 'odd_even')
  np.testing.assert_array_equal(p0, np.arange(0, 784, 2))
  np.testing.assert_array_equal(p1, np.arange(1, 784, 2))


def test_checkerboard_colours_pixels_not_channels():
  p0, _ = coupling.partition((2, 2, 3), 'checkerboard')
  # Pixels (0,0) and (1,1), all three channels each.
  np.testing.assert_array_equal(p0, [0, 1, 2, 9, 10, 11])


def _mlp(out_dim, **kw):
  return coupling.CouplingMLP(out_dim=out_dim, hidden=16, depth=3, **kw)


def test_mlp_depth_width_and_identity_init():
  """depth hidden ReLU layers of `hidden` units plus a linear output; 'he' with r=0 gives m = 0."""
  net = _mlp(5, kernel_init='he', init_range=0.0)
  x = jax.random.normal(jax.random.PRNGKey(0), (7, 4))
  params = net.init(jax.random.PRNGKey(1), x)['params']
  assert sorted(params) == ['hidden_0', 'hidden_1', 'hidden_2', 'out']
  assert params['hidden_1']['kernel'].shape == (16, 16)
  assert params['out']['kernel'].shape == (16, 5)
  np.testing.assert_array_equal(net.apply({'params': params}, x), 0.0)


def test_uniform_init_range():
  net = _mlp(5, kernel_init='uniform', init_range=0.01)
  params = net.init(jax.random.PRNGKey(1), jnp.zeros((1, 4)))['params']
  for layer in params.values():
    assert float(jnp.max(jnp.abs(layer['kernel']))) <= 0.01
    np.testing.assert_array_equal(layer['bias'], 0.0)


def _coupling_fn(d, cond, upd):
  net = _mlp(len(upd), kernel_init='he', init_range=1.0)
  params = net.init(jax.random.PRNGKey(2), jnp.zeros((1, len(cond))))['params']
  return lambda xa: net.apply({'params': params}, xa)


def test_additive_coupling_inverse_and_unit_jacobian():
  """x_B -> x_B + m(x_A) is inverted by subtracting m(y_A); its Jacobian is unit triangular."""
  d = 7
  cond, upd = coupling.layer_parts((d,), 'odd_even', 1)
  m = _coupling_fn(d, cond, upd)
  x = jax.random.normal(jax.random.PRNGKey(3), (5, d))
  y = coupling.additive_coupling(x, m, cond, upd)
  assert not np.allclose(y, x)  # the layer does something
  np.testing.assert_array_equal(y[:, cond], x[:, cond])
  np.testing.assert_allclose(coupling.additive_coupling(y, m, cond, upd, inverse=True), x,
                             atol=1e-6)
  jac = jax.jacfwd(lambda v: coupling.additive_coupling(v[None], m, cond, upd)[0])(x[0])
  np.testing.assert_allclose(np.diag(jac), 1.0)
  sign, logdet = jnp.linalg.slogdet(jac)
  assert float(sign) == 1.0 and abs(float(logdet)) < 1e-6
  # dy_A/dx_B = 0: the conditioning half does not depend on the updated half.
  np.testing.assert_array_equal(jac[np.ix_(cond, upd)], 0.0)
