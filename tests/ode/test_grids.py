"""Facts about the time grids of `jaxgen.ode.grids`."""

import jax
import numpy as np
import pytest

from jaxgen.ode import grids
from jaxgen.diffusion import sde as sde_lib


@pytest.mark.parametrize('name', grids.NAMES)
@pytest.mark.parametrize('t0,t1', [(1.0, 1e-3), (1e-3, 1.0)])  # log-SNR is infinite at t = 0
def test_endpoints_and_monotone(name, t0, t1):
  """Every grid has steps+1 points, starts at t0, ends at t1 and is strictly monotone."""
  sde = sde_lib.VPSDE()
  g = jax.jit(lambda a, b: grids.make(name, a, b, 10, shift_a=3.0, schedule=sde))(t0, t1)
  g = np.asarray(g)
  assert g.shape == (11,)
  np.testing.assert_allclose([g[0], g[-1]], [t0, t1], rtol=1e-6)
  d = np.diff(g) * np.sign(t1 - t0)
  assert np.all(d > 0)


def test_edm_grid_without_schedule_crowds_near_end():
  """Without a schedule, s = |t - t1| follows the rho schedule: steps shrink towards t1."""
  g = np.asarray(grids.edm(0.0, 1.0, 8, rho=7.0))
  np.testing.assert_allclose(1.0 - g, (1.0 - np.arange(9) / 8)**7, atol=1e-6)
  assert np.all(np.diff(np.diff(g)) < 0)


def test_log_snr_grid_is_uniform_in_log_snr():
  for sde in (sde_lib.VPSDE(), sde_lib.SubVPSDE(), sde_lib.VESDE()):
    g = grids.log_snr(1.0, sde.eps, 12, sde.log_snr, sde.t_from_log_snr)
    lam = np.asarray(sde.log_snr(g))
    np.testing.assert_allclose(np.diff(lam), np.diff(lam).mean(), rtol=2e-3)


def test_shift():
  """a = 1 is the uniform grid; otherwise s' = a s / (1 + (a - 1) s), s the fraction still to go."""
  np.testing.assert_allclose(grids.shift(1.0, 0.0, 10, 1.0), grids.uniform(1.0, 0.0, 10), atol=1e-7)
  g = np.asarray(grids.shift(1.0, 0.0, 4, 3.0))
  s = np.array([1, .75, .5, .25, 0])
  np.testing.assert_allclose(g, 3 * s / (1 + 2 * s), atol=1e-6)
