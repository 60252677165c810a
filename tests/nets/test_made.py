"""MADE's masks and NADE's recursion: output d never depends on inputs at or after d's position
in the ordering (checked by Jacobian), and does depend on earlier ones."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.nets import made
from jaxgen.nets.nade import NADE

D = 7


def _jacobian(apply, x):
  """|d out[d, p] / d x[d']| summed over the outputs p of each dimension: [D (out), D (in)]."""
  jac = jax.jacfwd(lambda v: apply(v[None])[0])(x)     # [D, P, D]
  return np.abs(np.asarray(jac)).sum(1)


def _earlier(degrees0):
  """allowed[d, d'] = input d' comes strictly before d in the ordering."""
  return degrees0[None, :] < degrees0[:, None]


def test_degrees_follow_the_ordering_and_stay_in_range():
  """Input o(t) gets degree t + 1; hidden degrees lie in [min of the layer below, D-1]; the
  first masks of a larger set are those of a smaller one."""
  np.testing.assert_array_equal(made.order_degrees([2, 0, 1]), [2, 3, 1])
  np.testing.assert_array_equal(made.input_order(jnp.array([2, 3, 1])), [2, 0, 1])
  for i in range(5):
    degrees = made.draw_degrees(np.random.default_rng(i), D, (30, 20), random_order=True)
    assert sorted(degrees[0]) == list(range(1, D + 1))
    for below, layer in zip(degrees[:-1], degrees[1:]):
      assert layer.min() >= below.min() and layer.max() <= D - 1
  small = made.stacked_degrees(3, 2, D, (5,), True)
  large = made.stacked_degrees(3, 4, D, (5,), True)
  assert large[0].shape == (4, D) and large[1].shape == (4, 5)
  for s, l in zip(small, large):
    np.testing.assert_array_equal(s, l[:2])
  natural = made.stacked_degrees(0, 3, D, (5,), False)[0]
  np.testing.assert_array_equal(natural, np.tile(np.arange(1, D + 1), (3, 1)))
  with pytest.raises(ValueError, match='at least 2'):
    made.draw_degrees(np.random.default_rng(0), 1, (4,), False)


@pytest.mark.parametrize('seed,random_order,direct', [(0, True, True), (1, True, False),
                                                       (2, False, True), (3, False, False)])
def test_made_is_autoregressive_in_its_ordering(seed, random_order, direct):
  """Random orders and random connectivity: d out_d / d x_d' = 0 unless d' is earlier than d;
  with the direct connection every earlier input matters, without it some do."""
  net = made.MADE((16, 12), per_dim=3, direct=direct)
  degrees = made.draw_degrees(np.random.default_rng(seed), D, net.hidden, random_order)
  mask = made.masks(degrees)
  x = jax.random.normal(jax.random.PRNGKey(seed), (D,))
  params = net.init(jax.random.PRNGKey(seed), x[None], mask)
  jac = _jacobian(lambda v: net.apply(params, v, mask), x)
  allowed = _earlier(degrees[0])
  assert np.all(jac[~allowed] == 0)
  if direct:
    assert np.all(jac[allowed] > 0)
  else:
    assert np.any(jac[allowed] > 0)
  first = int(np.argmin(degrees[0]))
  assert np.all(jac[first] == 0)            # the first dimension sees no input


def test_masks_work_on_traced_degrees():
  """`masks` of jax degrees (as a model builds them in a jitted step) equal the numpy ones."""
  degrees = made.draw_degrees(np.random.default_rng(0), D, (9,), True)
  ref = made.masks(degrees)
  traced = jax.jit(lambda d: made.masks(d))(tuple(jnp.asarray(d) for d in degrees))
  for a, b in zip(jax.tree.leaves(ref), jax.tree.leaves(traced)):
    np.testing.assert_array_equal(a, b)


def test_nade_is_autoregressive_and_its_recursion_gives_the_same_outputs():
  """NADE's output d depends on exactly x_<d, and start/advance/output reproduce __call__."""
  net = NADE(D, 5, per_dim=2)
  x = jax.random.normal(jax.random.PRNGKey(0), (D,))
  params = net.init(jax.random.PRNGKey(1), x[None])
  params = jax.tree.map(lambda p: p + jax.random.normal(jax.random.PRNGKey(2), p.shape), params)
  jac = _jacobian(lambda v: net.apply(params, v), x)
  allowed = _earlier(np.arange(1, D + 1))
  assert np.all(jac[~allowed] == 0) and np.all(jac[allowed] > 0)
  a = net.apply(params, 1, method=NADE.start)
  steps = []
  for d in range(D):
    steps.append(net.apply(params, a, d, method=NADE.output))
    a = net.apply(params, a, d, x[d][None], method=NADE.advance)
  np.testing.assert_allclose(np.stack(steps, 1), net.apply(params, x[None]), rtol=1e-5,
                             atol=1e-6)
