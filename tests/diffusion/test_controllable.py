"""Inpainting and colorization through the PC sampler (`jaxgen.diffusion.controllable`).

Facts checked:
  * observed coordinates come back exactly (bit for bit) and the grey level of a colorized image
    equals the input's (to float rounding, 1e-5);
  * with the exact score of a 2-D Gaussian N(mu, S) and x_0 observed, the imputed x_1 follows the
    closed-form conditional N(mu_1 + S_10/S_00 (x_0 - mu_0), S_11 - S_10^2/S_00). Tolerance:
    5 Monte Carlo standard errors at n = 2000 (mean: sqrt(v/n); variance: v sqrt(2/n)) plus 0.03,
    the bias of the replacement method with a Langevin corrector at 200 steps (measured 0.01 -
    0.02 on the variance at 100 - 400 steps; without a corrector the replacement method is far
    off: variance 0.54 instead of 0.36, which is why the corrector is on).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.distributions import gmm
from jaxgen.diffusion import sde as sde_lib
from jaxgen.diffusion import controllable as ctl

MU = np.array([0.5, -0.3])
S = np.array([[1.0, 0.8], [0.8, 1.0]])
GAUSS = gmm.GaussianMixture.make([1.0], [MU], [S])


def _score(sde, mix):
  return lambda t, x: mix.diffuse(sde.alpha(t[0]), sde.sigma(t[0])).score(x)


def _check_conditional(sde, steps, n=2000, y0=1.0):
  y = jnp.tile(jnp.array([[y0, 0.0]]), (n, 1))
  mask = jnp.array([1.0, 0.0])
  fn = jax.jit(lambda k: ctl.inpaint(sde, _score(sde, GAUSS), k, y, mask, corrector='langevin',
                                     snr=0.16, steps=steps))
  x, info = fn(jax.random.PRNGKey(0))
  x = np.asarray(x, np.float64)
  assert info['nfe'] == 2 * steps + 1
  assert (x[:, 0] == y0).all()
  cm = MU[1] + S[1, 0] / S[0, 0] * (y0 - MU[0])
  cv = S[1, 1] - S[1, 0]**2 / S[0, 0]
  assert abs(x[:, 1].mean() - cm) < 5 * np.sqrt(cv / n) + 0.03, (x[:, 1].mean(), cm)
  assert abs(x[:, 1].var() - cv) < 5 * cv * np.sqrt(2 / n) + 0.03, (x[:, 1].var(), cv)


def test_inpainting_gaussian_conditional_ve():
  _check_conditional(sde_lib.VESDE(sigma_max=10.0), steps=200)


@pytest.mark.slow
@pytest.mark.parametrize('sde', [sde_lib.VPSDE(), sde_lib.SubVPSDE()], ids=['vp', 'subvp'])
def test_inpainting_gaussian_conditional_vp(sde):
  _check_conditional(sde, steps=200)


def test_inpainting_keeps_observed_pixels_exactly():
  """NHWC images, half the pixels observed, a crude score (-x): observed values are bit-exact."""
  sde = sde_lib.VPSDE()
  y = jax.random.uniform(jax.random.PRNGKey(1), (2, 4, 4, 3), minval=-1, maxval=1)
  mask = (jnp.arange(4)[None, :, None, None] < 2).astype(jnp.float32)  # top half observed
  x, _ = ctl.inpaint(sde, lambda t, x: -x, jax.random.PRNGKey(2), y, mask, steps=5)
  np.testing.assert_array_equal(np.asarray(x[:, :2]), np.asarray(y[:, :2]))
  assert np.isfinite(np.asarray(x)).all()
  assert not np.allclose(np.asarray(x[:, 2:]), np.asarray(y[:, 2:]))


def test_colorize_keeps_grey_level():
  """The colour basis is orthonormal with a grey first axis; colorized output has the input's grey."""
  np.testing.assert_allclose(ctl.COLOR_BASIS @ ctl.COLOR_BASIS.T, np.eye(3), atol=1e-6)
  sde = sde_lib.VESDE()
  img = jax.random.uniform(jax.random.PRNGKey(3), (2, 4, 4, 3))
  gray = ctl.to_gray(img)
  x, info = ctl.colorize(sde, lambda t, x: -x / (1 + sde.sigma(t[0])**2), jax.random.PRNGKey(4),
                         gray, steps=5, corrector='none')
  assert x.shape == img.shape and info['nfe'] == 6
  np.testing.assert_allclose(np.asarray(x.mean(-1)), np.asarray(gray[..., 0]), atol=1e-5)
  assert np.asarray(x.std(-1)).max() > 1e-3  # it did put colour in
