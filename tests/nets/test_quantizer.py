"""`jaxgen.nets.quantizer`: nearest codes by brute force, the straight-through gradient, the
EMA codebook step against its closed form, dead-code restarts, usage and perplexity."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.nets import quantizer


def _data(n=12, k=5, d=3, seed=0):
  rng = np.random.default_rng(seed)
  return (rng.normal(size=(n, d)).astype(np.float32),
          rng.normal(size=(k, d)).astype(np.float32))


def test_nearest_code_is_the_brute_force_argmin():
  z, e = _data(n=40, k=7)
  brute = np.array([np.argmin([np.sum((zi - ej) ** 2) for ej in e]) for zi in z])
  np.testing.assert_array_equal(np.asarray(quantizer.nearest(z, e)), brute)
  np.testing.assert_allclose(quantizer.distances(z, e),
                             ((z[:, None] - e[None]) ** 2).sum(-1), rtol=1e-5, atol=1e-5)


def test_straight_through_gradient_is_the_gradient_at_the_quantized_value():
  """d/dz f(z + sg[q - z]) = f'(q): the decoder's gradient at the code passes to the encoder."""
  z, e = _data()
  q = quantizer.lookup(quantizer.nearest(z, e), e)
  f = lambda v: jnp.sum(jnp.sin(v) * v ** 2)
  through = jax.grad(lambda v: f(quantizer.straight_through(v, q)))(jnp.asarray(z))
  np.testing.assert_allclose(through, jax.grad(f)(q), rtol=1e-6)
  np.testing.assert_allclose(quantizer.straight_through(z, q), q, rtol=1e-6, atol=1e-6)
  assert not np.allclose(jax.grad(f)(jnp.asarray(z)), through)   # it is not f'(z)


def test_losses_send_gradients_to_the_codebook_and_to_the_encoder_separately():
  z, e = _data()
  q = quantizer.lookup(quantizer.nearest(z, e), e)
  cb, commit = quantizer.losses(z, q)
  np.testing.assert_allclose(cb, np.mean((z - q) ** 2), rtol=1e-6)
  np.testing.assert_allclose(commit, cb, rtol=1e-6)
  g_z = jax.grad(lambda v: quantizer.losses(v, q)[0])(jnp.asarray(z))
  g_q = jax.grad(lambda v: quantizer.losses(z, v)[1])(q)
  assert not np.any(g_z) and not np.any(g_q)


def test_ema_update_matches_its_closed_form_on_a_tiny_batch():
  """N_i <- g N_i + (1-g) n_i, m_i <- g m_i + (1-g) s_i, e_i = m_i / ((N_i + eps) / (sum N +
  K eps) sum N), computed here code by code."""
  z, e = _data(n=6, k=4, d=2, seed=3)
  codes = np.array([0, 0, 2, 2, 2, 1])
  count = np.array([1.0, 2.0, 0.5, 3.0], np.float32)
  total = np.arange(8, dtype=np.float32).reshape(4, 2)
  g, eps = 0.9, 1e-5
  n_new = np.array([g * count[i] + (1 - g) * np.sum(codes == i) for i in range(4)])
  m_new = np.stack([g * total[i] + (1 - g) * z[codes == i].sum(0) for i in range(4)])
  smooth = (n_new + eps) / (n_new.sum() + 4 * eps) * n_new.sum()
  got = quantizer.ema_update(count, total, z, codes, g, eps)
  np.testing.assert_allclose(got[0], n_new, rtol=1e-6)
  np.testing.assert_allclose(got[1], m_new, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(got[2], m_new / smooth[:, None], rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(got[2][3], g * total[3] / smooth[3], rtol=1e-5)   # unused code


def test_idle_codes_restart_at_rows_of_the_batch_and_the_others_stay():
  z, e = _data(n=10, k=6)
  idle = quantizer.idle_steps(jnp.array([0., 5., 1., 0., 2., 9.]), jnp.array([0, 0, 1, 3, 3]))
  np.testing.assert_array_equal(idle, [0, 0, 2, 0, 3, 10])
  count, total = jnp.ones(6), jnp.asarray(e)
  new, idle2, c2, t2 = quantizer.restart_dead(jax.random.PRNGKey(0), jnp.asarray(e), idle, z, 3,
                                              count, total)
  dead = np.asarray(idle) >= 3
  np.testing.assert_array_equal(np.asarray(new)[~dead], e[~dead])
  for row in np.asarray(new)[dead]:
    assert np.any(np.all(np.isclose(z, row), axis=1))
  np.testing.assert_array_equal(idle2, np.where(dead, 0, idle))
  np.testing.assert_array_equal(c2, np.ones(6))
  np.testing.assert_array_equal(t2, new)


def test_usage_and_perplexity_closed_forms():
  assert float(quantizer.usage(jnp.array([1, 1, 3]), 8)) == 0.25
  np.testing.assert_allclose(quantizer.perplexity(jnp.arange(8), 8), 8.0, rtol=1e-6)
  np.testing.assert_allclose(quantizer.perplexity(jnp.zeros(5, jnp.int32), 8), 1.0, rtol=1e-6)
  p = np.array([0.5, 0.25, 0.25])
  np.testing.assert_allclose(quantizer.perplexity(jnp.array([0, 0, 1, 2]), 4),
                             np.exp(-np.sum(p * np.log(p))), rtol=1e-6)
