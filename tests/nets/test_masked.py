"""Masked convolutions: the mask encodes raster order and the R < G < B channel order."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.nets import masked


def test_mask_a_hides_the_centre_and_everything_after_it():
  m = masked.causal_mask((3, 3), (1, 1), 1, 1, 'A')[..., 0, 0]
  np.testing.assert_array_equal(m, [[1, 1, 1], [1, 0, 0], [0, 0, 0]])
  m = masked.causal_mask((3, 3), (1, 1), 1, 1, 'B')[..., 0, 0]
  np.testing.assert_array_equal(m, [[1, 1, 1], [1, 1, 0], [0, 0, 0]])


def test_colour_masks_follow_r_then_g_then_b():
  # 3 input channels (R, G, B) -> 6 outputs in groups R, R, G, G, B, B.
  a = masked.causal_mask((1, 1), (0, 0), 3, 6, 'A', groups=3)[0, 0]
  b = masked.causal_mask((1, 1), (0, 0), 3, 6, 'B', groups=3)[0, 0]
  # A: R outputs see nothing of the pixel, G outputs see R, B outputs see R and G.
  np.testing.assert_array_equal(a, [[0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 0, 0]])
  np.testing.assert_array_equal(b, [[1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1]])


def test_groups_must_divide_the_features():
  with pytest.raises(ValueError, match='multiple of 3'):
    masked.causal_mask((3, 3), (1, 1), 3, 4, 'B', groups=3)


@pytest.mark.parametrize('kernel,padding,mask,centre', [
    ((3, 3), (1, 1, 1, 1), 'B', None),
    ((7, 7), (3, 3, 3, 3), 'A', None),
    ((2, 3), (1, 0, 1, 1), None, None),
    ((1, 2), (0, 0, 1, 0), 'A', (0, 1)),
])
def test_window_equals_the_full_convolution_at_every_position(kernel, padding, mask, centre):
  conv = masked.CausalConv(6, kernel, padding, mask=mask, centre=centre, groups=3)
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 5, 4, 3))
  params = conv.init(jax.random.PRNGKey(1), x)
  full = conv.apply(params, x)
  t, b, l, r = padding
  xp = jnp.pad(x, ((0, 0), (t, b), (l, r), (0, 0)))
  for i in range(5):
    for j in range(4):
      win = xp[:, i:i + kernel[0], j:j + kernel[1]]
      out = conv.apply(params, win, method=masked.CausalConv.window)
      np.testing.assert_allclose(out, full[:, i, j], rtol=1e-5, atol=1e-5)


def test_masked_weights_get_no_gradient():
  conv = masked.CausalConv(2, (3, 3), (1, 1, 1, 1), mask='A')
  x = jax.random.normal(jax.random.PRNGKey(0), (1, 4, 4, 1))
  params = conv.init(jax.random.PRNGKey(1), x)
  g = jax.grad(lambda p: conv.apply(p, x).sum())(params)['params']['kernel'][..., 0, 0]
  assert np.all(np.asarray(g)[1, 1:] == 0) and np.all(np.asarray(g)[2] == 0)
