"""The variational dequantizer q(u | k): a density on the unit cube whose draws lie in [0, 1)."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.nets import dequantizer


def _q(shape, seed=0):
  """A q off its identity start (every parameter perturbed), for integer images of `shape`."""
  module = dequantizer.Dequantizer(num_levels=4, steps=3, hidden=8)
  levels = jnp.asarray(np.random.default_rng(seed).integers(0, 4, shape), jnp.float32)
  params = dequantizer.init(module, jax.random.PRNGKey(seed), levels)
  leaves, tree = jax.tree_util.tree_flatten(params)
  keys = jax.random.split(jax.random.PRNGKey(seed + 1), len(leaves))
  params = jax.tree_util.tree_unflatten(
      tree, [v + 0.3 * jax.random.normal(k, v.shape) for v, k in zip(leaves, keys)])
  return module, params, levels


def test_log_density_integrates_to_one_over_the_unit_square():
  """Midpoint quadrature of q(u | k) over [0, 1]^2 (a 1x2 one-channel image) is 1."""
  module, params, levels = _q((1, 1, 2, 1))
  n = 400
  g = (np.arange(n) + 0.5) / n
  u = np.stack(np.meshgrid(g, g, indexing='ij'), -1).reshape(-1, 1, 2, 1).astype(np.float32)
  lq = module.apply({'params': params}, jnp.asarray(u), jnp.broadcast_to(levels, u.shape),
                    method=dequantizer.Dequantizer.log_density)
  assert abs(float(jnp.sum(jnp.exp(lq))) / n**2 - 1.0) < 5e-3


def test_draws_lie_in_the_unit_cube_and_their_log_q_is_the_density_there():
  """Draws are in [0, 1) even where sigmoid rounds to 1, and log q of a draw equals the
  inverse's log_density at it."""
  module, params, levels = _q((64, 4, 4, 1), seed=3)
  u, lq = dequantizer.draw(module, params, levels, jax.random.PRNGKey(7))
  assert float(jnp.min(u)) >= 0.0 and float(jnp.max(u)) < 1.0
  big, _ = module.apply({'params': params}, jnp.full(levels.shape, 40.0), levels)
  assert float(jnp.max(big)) < 1.0
  inside = jnp.all((u > 1e-4) & (u < 1 - 1e-4), axis=(1, 2, 3))
  back = module.apply({'params': params}, u, levels, method=dequantizer.Dequantizer.log_density)
  np.testing.assert_allclose(np.asarray(back)[inside], np.asarray(lq)[inside], atol=2e-3)
