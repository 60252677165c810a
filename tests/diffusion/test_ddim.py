"""Facts about DDIM."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.ode import grids
from jaxgen.diffusion import sde as sde_lib
from jaxgen.diffusion import ddim as ddim_lib

MU, S0 = 1.0, 0.3


@pytest.mark.parametrize('sde', [sde_lib.VPSDE(), sde_lib.SubVPSDE(), sde_lib.VESDE()],
                         ids=['vp', 'subvp', 've'])
@pytest.mark.parametrize('eta', [0.0, 1.0])
def test_ddim_samples_the_gaussian(sde, eta):
  """Data N(MU, S0^2) with the exact noise prediction: 200 DDIM steps (uniform in t, T -> eps)
  from the prior give mean and std at eps within 5 standard errors (n = 20000) plus an allowance
  for the O(1/steps) discretization bias: 3% for eta = 0 (ODE), 7% for eta = 1 (ancestral, whose
  point estimate x0_hat drops the posterior variance of x0: measured -5.6% on the VP std)."""
  def eps_fn(t, x):
    a, s = sde.alpha(t)[:, None], sde.sigma(t)[:, None]
    return s * (x - a * MU) / (a**2 * S0**2 + s**2)
  n = 20000
  x = sde.prior_sample(jax.random.PRNGKey(0), (n, 1))
  ts = grids.uniform(sde.T, sde.eps, 200)
  out, st = jax.jit(lambda x: ddim_lib.ddim(eps_fn, x, ts, sde, eta=eta,
                                            rng=jax.random.PRNGKey(1)))(x)
  out = np.asarray(out[:, 0])
  want_m = float(sde.alpha(sde.eps) * MU)
  want_s = float(jnp.sqrt(sde.alpha(sde.eps)**2 * S0**2 + sde.sigma(sde.eps)**2))
  bias = 0.03 if eta == 0.0 else 0.07
  assert abs(out.mean() - want_m) < 5 * want_s / np.sqrt(n) + bias * abs(want_m)
  assert abs(out.std() - want_s) < 5 * want_s / np.sqrt(2 * n) + bias * want_s
  assert int(st['nfe']) == 200


def test_ddim_nfe_and_eta_requires_rng():
  sde = sde_lib.VPSDE()
  eps_fn = lambda t, x: jnp.zeros_like(x)
  x, st = ddim_lib.ddim(eps_fn, jnp.ones((2, 3)), grids.uniform(1.0, 1e-3, 7), sde)
  assert int(st['nfe']) == 7
  with pytest.raises(ValueError):
    ddim_lib.ddim(eps_fn, jnp.ones((2, 3)), grids.uniform(1.0, 1e-3, 7), sde, eta=1.0)
