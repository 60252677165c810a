"""The dispatcher `jaxgen.diffusion.sampler`: its settings and which grid each method walks.

Data law N(MU, S0^2) (closed-form score ``-(x - alpha MU) / (alpha^2 S0^2 + sigma^2)``). Facts:
DPM-Solver / DPM-Solver++(2M) / DDIM through the dispatcher are the direct solver on the grid
``sampling.grid`` names (or the array given), bit for bit, and 'log_snr' and 'uniform' give
different iterates; the PF-ODE path accepts a solver function; the settings refuse unknown names.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.diffusion import ddim, dpm_solver, sampler
from jaxgen.diffusion import sde as sde_lib
from jaxgen.ode import grids, solvers

MU, S0 = 1.0, 0.3
SDE = sde_lib.VPSDE()


def score(t, x):
  a, s = SDE.alpha(t)[:, None], SDE.sigma(t)[:, None]
  return -(x - a * MU) / (a**2 * S0**2 + s**2)


def _direct(method, ts, rng):
  """What the dispatcher must compute: the prior draw of its first key, then the solver on ts."""
  r0, _ = jax.random.split(rng)
  x = SDE.prior_sample(r0, (5, 1))
  eps_fn = SDE.noise_from_score(score)
  if method == 'ddim':
    return ddim.ddim(eps_fn, x, ts, SDE)[0]
  if method == 'dpm_solver':
    return dpm_solver.dpm_solver(eps_fn, x, ts, SDE, order=2)[0]
  return dpm_solver.dpm_solver_pp_2m(eps_fn, x, ts, SDE)[0]


@pytest.mark.parametrize('method', ['ddim', 'dpm_solver', 'dpm_solver++2m'])
def test_grid_is_honoured(method):
  rng = jax.random.PRNGKey(0)
  run = lambda **kw: np.asarray(sampler.sample(SDE, score, rng, (5, 1), dict(
      method=method, steps=6, dpm_order=2, **kw))[0])
  by_name = {g: run(grid=g) for g in ('log_snr', 'uniform')}
  for g in ('log_snr', 'uniform'):
    ts = grids.make(g, SDE.T, SDE.eps, 6, schedule=SDE)
    np.testing.assert_array_equal(by_name[g], np.asarray(_direct(method, ts, rng)))
  assert np.abs(by_name['log_snr'] - by_name['uniform']).max() > 1e-4
  ts = jnp.array([1.0, 0.6, 0.3, 0.1, 0.03, 1e-3])  # a custom grid array, 5 steps
  np.testing.assert_array_equal(run(grid=ts), np.asarray(_direct(method, ts, rng)))


def test_ode_with_a_solver_function_and_a_grid_array():
  """A solver function (SSP-RK3 from its tableau) on a grid array: nfe = 3 per step (+1 Tweedie)
  and the same result as integrating the PF-ODE by hand."""
  ssp3 = solvers.explicit_rk(a=[[], [1.0], [0.25, 0.25]], b=[1 / 6, 1 / 6, 2 / 3],
                             c=[0.0, 1.0, 0.5])
  ts = grids.uniform(SDE.T, SDE.eps, 8)
  rng = jax.random.PRNGKey(3)
  x, st = sampler.sample(SDE, score, rng, (5, 1), dict(method='ode', solver=ssp3, grid=ts,
                                                      denoise=False))
  assert int(st['nfe']) == 24
  x0 = SDE.prior_sample(jax.random.split(rng)[0], (5, 1))
  want, _ = ssp3(SDE.pf_ode(score), x0, ts)
  np.testing.assert_allclose(x, want, rtol=1e-6)
  _, st = sampler.sample(SDE, score, rng, (5, 1), dict(method='ode', solver=ssp3, grid=ts))
  assert int(st['nfe']) == 25


def test_settings_from_config_and_labels():
  """Keys a section lacks come from base; labels name the method (or the ODE solver)."""
  base = sampler.DiffusionSampling.from_config(dict(method='ode', solver='dopri5', steps=9))
  assert base.label == 'dopri5' and base.adaptive_ode and base.steps == 9
  s = sampler.DiffusionSampling.from_config({'method': 'ddim'}, base=base)
  assert s.label == 'ddim' and not s.adaptive_ode and s.steps == 9
  assert sampler.DiffusionSampling.from_config(s) is s
  assert s.steps_for(SDE) == 9 and s.end_time(SDE) == SDE.eps
  assert sampler.DiffusionSampling(steps=0).steps_for(SDE) == SDE.N


@pytest.mark.parametrize('keys,message', [
    (dict(method='dpm'), 'sampling.method'), (dict(predictor='heun'), 'sampling.predictor'),
    (dict(dpm_order=0), 'sampling.dpm_order'), (dict(solver='rk5'), 'unknown solver'),
    (dict(grid='cosine'), 'unknown grid'),
    (dict(predictor='ancestral', probability_flow=True), 'sampling.probability_flow')])
def test_unknown_names_are_refused(keys, message):
  with pytest.raises(ValueError, match=message):
    sampler.DiffusionSampling.from_config(keys)
