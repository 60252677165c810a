"""Facts about projected-gradient inpainting (jaxgen.models.nice.gradient_inpaint), on closed
forms and on NICE.

Gaussian conditional: NICE with linear couplings (``model.depth = 0``) and a Gaussian prior is an
affine map of a standard normal, so its density is N(mu, P^-1) with P = W^T W, W = d encode / dx
and mu = -W^-1 encode(0). Projected gradient ascent with noise 0 climbs to the conditional *mode*,
which for a Gaussian is the conditional mean mu_H - P_HH^-1 P_HO (x_O - mu_O); the hidden values
are then a deterministic function of x_O (a point estimate: their spread over keys is 0, not the
conditional covariance P_HH^-1 -- inpainting by ascent does not sample; stated, not tested as a
covariance). Tolerance 1e-4: the step 1 / lambda_max(P_HH), constant to 1e-3 over the run, shrinks
the error by (1 - lambda_min / lambda_max) per step (condition number 4.9 here: 1e-50 after
the 500 steps); the observed and hidden coordinates are correlated (covariances up to -0.5).
"""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen.data import masks
from jaxgen.models.nice import gradient_inpaint
from jaxgen.models import nice


def test_quadratic_converges_to_the_projection_of_the_maximiser():
  """For log p = -|x - mu|^2 / 2 the box-constrained maximiser is clip(mu, low, high)."""
  mu = jnp.array([[-0.5, 0.3, 1.7, 0.9], [0.1, 2.0, 0.6, -3.0]])
  x = jnp.full_like(mu, 0.5)
  mask = jnp.array([True, False, False, False])
  out, info = gradient_inpaint.inpaint(lambda z: -0.5 * jnp.sum((z - mu)**2, -1), x, mask,
                              jax.random.PRNGKey(0), steps=200, lr=50.0, lr_offset=100.0,
                              noise=0.0)
  np.testing.assert_array_equal(out[:, 0], x[:, 0])
  np.testing.assert_allclose(out[:, 1:], jnp.clip(mu, 0, 1)[:, 1:], atol=1e-5)
  assert info['log_prob'].shape == (201, 2)


def _nice():
  c = nice.defaults()
  c.data = ml_collections.ConfigDict({'dequantize': True})
  c.model.update(dict(num_couplings=4, hidden=32, depth=2, kernel_init='he', init_range=1.0))
  spec = type('Spec', (), dict(shape=(6, 6, 1), low=0.0, high=1.0, num_levels=256))()
  m = nice.build(c, spec)
  x = jax.random.uniform(jax.random.PRNGKey(0), (4, 6, 6, 1))
  params = m.init(jax.random.PRNGKey(1), x)
  params['log_scale'] = params['log_scale'] + 1.0
  return c, m, params, x


def test_nice_inpainting_keeps_observed_pixels_and_never_lowers_log_prob():
  """Observed pixels are bit-for-bit unchanged, hidden ones stay in [0,1], and with noise 0 and a
  small step every projected ascent step does not decrease log p (up to float32 round-off)."""
  c, m, params, x = _nice()
  mask = masks.image_masks((6, 6, 1), 'bottom_half')
  settings = m.sampling_settings(c.sampling)
  out, info = jax.jit(lambda p, r, v: m.extras['inpaint'](p, r, v, mask, settings, steps=100,
                                                          lr=0.05, lr_offset=1.0, noise=0.0)
                      )(params, jax.random.PRNGKey(2), x)
  np.testing.assert_array_equal(np.asarray(out)[:, :3], np.asarray(x)[:, :3])
  assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
  lp = np.asarray(info['log_prob'])
  assert np.all(np.diff(lp, axis=0) >= -1e-3 * np.abs(lp[:-1])), np.diff(lp, axis=0).min()
  assert np.all(lp[-1] > lp[0] + 1.0)
  np.testing.assert_allclose(lp[-1], m.log_prob(params, {'x': out}, None), rtol=1e-5)


def test_paper_schedule_with_noise_keeps_observed_pixels_and_range():
  c, m, params, x = _nice()
  mask = masks.image_masks((6, 6, 1), 'random', jax.random.PRNGKey(3), keep=0.25)
  out, info = m.extras['inpaint'](params, jax.random.PRNGKey(4), x, mask,
                                  m.sampling_settings(c.sampling), steps=50,
                                  lr=10.0, noise=1.0)  # the paper's formula, per image
  np.testing.assert_array_equal(np.where(mask, out, 0.0), np.where(mask, x, 0.0))
  assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
  assert np.all(np.isfinite(np.asarray(info['log_prob'])))


def test_affine_gaussian_nice_fills_the_conditional_mean():
  c = nice.defaults()
  c.model.update(dict(num_couplings=4, depth=0, prior='gaussian', init_range=0.8))
  spec = type('Spec', (), dict(shape=(2, 2, 1), low=-50.0, high=50.0, num_levels=None,
                               dequantized=False))()
  m = nice.build(c, spec)
  params = m.init(jax.random.PRNGKey(0), jnp.zeros((1, 2, 2, 1)))
  params = jax.tree_util.tree_map(  # random biases too: a mean away from 0
      lambda p: p + 0.3 * jax.random.normal(jax.random.PRNGKey(p.size), p.shape), params)
  enc = lambda x: m.extras['encode'](params, x.reshape(1, 2, 2, 1))[0]
  w = np.asarray(jax.jacfwd(enc)(jnp.zeros(4)), np.float64)
  mu = -np.linalg.solve(w, np.asarray(enc(jnp.zeros(4)), np.float64))
  prec = w.T @ w
  obs, hid = np.array([0, 1]), np.array([2, 3])  # 'bottom_half' of 2x2: the first row observed
  lam = np.linalg.eigvalsh(prec[np.ix_(hid, hid)])
  x_o = mu[obs] + np.array([[0.7, -0.4], [-1.2, 0.3], [0.0, 0.0]])
  x = np.zeros((3, 4), np.float32)
  x[:, obs] = x_o
  mask = masks.image_masks((2, 2, 1), 'bottom_half')
  offset = 1e3
  settings = m.sampling_settings({'inpaint_steps': 500, 'inpaint_lr': offset / lam.max(),
                                  'inpaint_lr_offset': offset, 'inpaint_noise': 0.0})
  out, info = jax.jit(lambda r: m.extras['inpaint'](
      params, r, jnp.asarray(x).reshape(3, 2, 2, 1), mask, settings))(jax.random.PRNGKey(1))
  out = np.asarray(out, np.float64).reshape(3, 4)
  cond = mu[hid] - (x_o - mu[obs]) @ np.linalg.solve(prec[np.ix_(hid, hid)],
                                                      prec[np.ix_(hid, obs)]).T
  np.testing.assert_allclose(out[:, hid], cond, atol=1e-4)
  np.testing.assert_array_equal(out[:, obs], x[:, obs])
  assert info['log_prob'].shape == (501, 3)
