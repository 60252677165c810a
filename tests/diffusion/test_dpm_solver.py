"""DPM-Solver-k converges with order k on a VP / sub-VP Gaussian case with a known solution."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.ode import grids
from jaxgen.diffusion import sde as sde_lib
from jaxgen.diffusion import ddim as ddim_lib
from jaxgen.diffusion import dpm_solver as dpm

# Data N(MU, S0^2): x_t = alpha x0 + sigma z is N(alpha MU, alpha^2 S0^2 + sigma^2), the exact noise
# prediction is eps = sigma (x - alpha MU) / (alpha^2 S0^2 + sigma^2), and the probability-flow ODE
# keeps the standardised value (x - alpha MU) / sqrt(alpha^2 S0^2 + sigma^2) constant.
MU, S0 = 1.0, 0.1
SDES = {'vp': sde_lib.VPSDE(), 'subvp': sde_lib.SubVPSDE()}


def _eps_fn(sde):
  def eps_fn(t, x):
    a, s = sde.alpha(t)[:, None], sde.sigma(t)[:, None]
    return s * (x - a * MU) / (a**2 * S0**2 + s**2)
  return eps_fn


def _exact(sde, x, t0, t1):
  v = lambda t: sde.alpha(t)**2 * S0**2 + sde.sigma(t)**2
  return sde.alpha(t1) * MU + jnp.sqrt(v(t1) / v(t0)) * (x - sde.alpha(t0) * MU)


def _errors(sde, solve, ms):
  xT = jnp.linspace(-2.0, 2.0, 5)[:, None]
  ref = np.asarray(_exact(sde, xT, sde.T, sde.eps))
  errs = []
  for m in ms:
    ts = grids.log_snr(sde.T, sde.eps, m, sde.log_snr, sde.t_from_log_snr)
    x, st = jax.jit(lambda x, ts: solve(x, ts))(xT, ts)
    errs.append(float(np.abs(np.asarray(x) - ref).max()))
  return errs, st


@pytest.mark.parametrize('name', list(SDES))
@pytest.mark.parametrize('order,ms', [(1, (16, 32, 64, 128)), (2, (8, 16, 32, 64)),
                                      (3, (8, 16, 32))])
def test_dpm_solver_order(name, order, ms):
  """Slope of log(max error at eps) vs log(M) (M log-SNR-uniform steps from T) is -k within 0.35;
  step counts kept where the error stays above float32 round-off."""
  sde = SDES[name]
  errs, st = _errors(sde, lambda x, ts: dpm.dpm_solver(_eps_fn(sde), x, ts, sde, order=order), ms)
  slope = np.polyfit(np.log(ms), np.log(errs), 1)[0]
  print(f'{name} DPM-Solver-{order}: measured order {-slope:.2f} errors {errs}')
  assert abs(-slope - order) < 0.35, (slope, errs)
  assert int(st['nfe']) == order * ms[-1]


@pytest.mark.parametrize('name', list(SDES))
def test_dpm_solver_pp_2m_second_order(name):
  """DPM-Solver++(2M) (its first step first order) converges with order 2 (within 0.3)."""
  sde = SDES[name]
  ms = (32, 64, 128, 256)
  errs, st = _errors(sde, lambda x, ts: dpm.dpm_solver_pp_2m(_eps_fn(sde), x, ts, sde,
                                                             lower_order_final=False), ms)
  slope = np.polyfit(np.log(ms), np.log(errs), 1)[0]
  print(f'{name} DPM-Solver++(2M): measured order {-slope:.2f}')
  assert abs(-slope - 2) < 0.3, (slope, errs)
  assert int(st['nfe']) == ms[-1]


@pytest.mark.parametrize('name', list(SDES))
def test_dpm_solver_1_is_ddim(name):
  """DPM-Solver-1 and deterministic DDIM (eta = 0) are the same map (Lu et al. 2022, Sec. 4.1)."""
  sde = SDES[name]
  x = jax.random.normal(jax.random.PRNGKey(0), (6, 3))
  ts = grids.uniform(sde.T, sde.eps, 10)
  eps_fn = lambda t, x: jnp.sin(x) * sde.sigma(t)[:, None]
  a, _ = dpm.dpm_solver(eps_fn, x, ts, sde, order=1)
  b, _ = ddim_lib.ddim(eps_fn, x, ts, sde)
  np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
