"""The dispatcher `jaxgen.diffusion.sampler`: its settings and which grid each method walks.

Data law N(MU, S0^2) (closed-form score ``-(x - alpha MU) / (alpha^2 S0^2 + sigma^2)``). Facts:
DPM-Solver / DPM-Solver++(2M) / DDIM through the dispatcher are the direct solver on the grid
``sampling.grid`` names (or the array given), bit for bit, and 'log_snr' and 'uniform' give
different iterates; the PF-ODE path accepts a solver function; the settings refuse unknown names.
"""

import jax
import ml_collections
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.diffusion import ddim, dpm_solver, sampler
from jaxgen.diffusion import sde as sde_lib
from jaxgen.ode import grids, solvers
from jaxgen.runtime import config as cfg

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


@pytest.mark.parametrize('method,own', [('dpm_solver', 'log_snr'), ('dpm_solver++2m', 'log_snr'),
                                        ('ode', 'uniform'), ('ddim', 'uniform')])
def test_the_default_grid_is_each_methods_own(method, own):
  """grid='default' (the default) gives the DPM-Solvers the papers' log-SNR grid and 'ode' /
  'ddim' the uniform one: the same samples, bit for bit, as naming that grid; an override of the
  method alone over a run's default grid follows the new method."""
  rng = jax.random.PRNGKey(0)
  keys = dict(method=method, steps=6, dpm_order=2, denoise=False)
  s = sampler.DiffusionSampling.from_config(keys)
  assert s.grid == 'default' and s.ode.grid == own
  run = lambda settings: np.asarray(sampler.sample(SDE, score, rng, (5, 1), settings)[0])
  np.testing.assert_array_equal(run(keys), run(dict(keys, grid=own)))
  base = sampler.DiffusionSampling.from_config(dict(method='pc'))
  assert sampler.DiffusionSampling.from_config({'method': method}, base=base).ode.grid == own
  named = sampler.DiffusionSampling.from_config(dict(method='pc', grid='edm'))
  assert sampler.DiffusionSampling.from_config({'method': method}, base=named).ode.grid == 'edm'


def test_a_bare_solver_spec_is_the_probability_flow_ode():
  """A SolverSpec as the settings: method 'ode' with that spec's solver, steps and grid, the
  other settings from the base (here denoise=False); the same samples as the equivalent dict."""
  spec = solvers.SolverSpec(solver='heun', steps=5, grid='log_snr')
  base = sampler.DiffusionSampling.from_config(dict(method='pc', denoise=False, steps=50))
  s = sampler.DiffusionSampling.from_config(spec, base=base)
  assert (s.method, s.steps, s.ode, s.denoise, s.label) == ('ode', 5, spec, False, 'heun')
  rng = jax.random.PRNGKey(2)
  x, st = sampler.sample(SDE, score, rng, (5, 1), spec)
  want, _ = sampler.sample(SDE, score, rng, (5, 1), dict(method='ode', solver='heun', steps=5,
                                                          grid='log_snr'))
  assert int(st['nfe']) == 2 * 5 + 1
  np.testing.assert_array_equal(x, want)


def _ssp3():
  return solvers.explicit_rk(a=[[], [1.0], [0.25, 0.25]], b=[1 / 6, 1 / 6, 2 / 3],
                             c=[0.0, 1.0, 0.5])


@pytest.mark.parametrize('method', ['pc', 'edm', 'ddim', 'dpm_solver', 'dpm_solver++2m'])
def test_a_solver_function_is_refused_where_no_solver_is_read(method):
  with pytest.raises(ValueError, match=r"^sampling\.solver: a solver function is read by "
                                       r"method='ode' only"):
    sampler.DiffusionSampling.from_config(dict(method=method, solver=_ssp3()))


@pytest.mark.parametrize('method', ['pc', 'edm'])
def test_a_grid_array_is_refused_where_no_grid_is_read(method):
  with pytest.raises(ValueError, match=r'^sampling\.grid: a grid array is read by method'):
    sampler.DiffusionSampling.from_config(dict(method=method, grid=[1.0, 0.5, 1e-3]))


def test_labels_follow_the_solver_spec_rule():
  """'ode' labels as SolverSpec.label: a name's canonical name, a function's identifier name,
  'custom' for a lambda or an unnamed explicit_rk result; other methods label as the method."""
  label = lambda **kw: sampler.DiffusionSampling.from_config(dict(method='ode', **kw)).label
  fn = _ssp3()
  assert label(solver='RK45') == 'dopri5' and label(solver=fn) == 'custom'
  fn.__name__ = 'ssp3'
  assert label(solver=fn) == 'ssp3'
  assert label(solver=lambda f, x0, ts: fn(f, x0, ts)) == 'custom'
  assert sampler.DiffusionSampling.from_config(dict(method='ddim')).label == 'ddim'


def test_defaults_and_choices_are_the_settings_own():
  """sampler.defaults() builds the class defaults (grid 'default'); choices() lists the names
  the settings accept, 'default' among the grids."""
  d = sampler.defaults()
  assert sampler.DiffusionSampling.from_config(d) == sampler.DiffusionSampling()
  assert d.grid == 'default' and d.method == 'pc' and d.steps == 100
  c = sampler.choices('sampling')
  assert c['sampling.method'] == sampler.METHODS and 'default' in c['sampling.grid']
  assert set(c) == {'sampling.method', 'sampling.predictor', 'sampling.corrector',
                    'sampling.dpm_order', 'sampling.solver', 'sampling.grid'}
  for g in c['sampling.grid']:
    sampler.DiffusionSampling.from_config(dict(method='ddim', grid=g))


def test_corrector_first_is_a_pc_key_with_its_own_label():
  """``corrector_first`` reaches `pc.pc_sample` (the reference order: one corrector sweep more)
  and names the sampler differently ('pc_corrector_first', the picture names); a non-bool value
  of the config key is refused by the schema's type check."""
  first = sampler.DiffusionSampling.from_config(dict(method='pc', corrector_first=True, steps=4))
  paper = sampler.DiffusionSampling.from_config(dict(method='pc', steps=4))
  assert (first.label, paper.label) == ('pc_corrector_first', 'pc')
  assert first.pc_kwargs(SDE)['corrector_first'] and not paper.pc_kwargs(SDE)['corrector_first']
  nfe = {s.label: int(sampler.sample(SDE, score, jax.random.PRNGKey(0), (5, 1), s)[1]['nfe'])
         for s in (first, paper)}
  assert nfe == {'pc_corrector_first': 4 + 5 + 1, 'pc': 4 + 4 + 1}
  assert sampler.defaults().corrector_first is False
  c = cfg.base('score_sde').to_dict()
  c['sampling']['corrector_first'] = 'yes'
  with pytest.raises(cfg.ConfigError, match=r'config\.sampling\.corrector_first: expected bool'):
    cfg.validate(ml_collections.ConfigDict(c))
