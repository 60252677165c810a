"""The rectified-flow family: its Model record, typed sampling settings and config checks (the
maths: tests/ode/test_flow.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.models import rectified_flow as rf
from jaxgen.ode import solvers
from jaxgen.runtime import config as cfg


def test_model_record_end_to_end_on_tiny_shapes():
  from jaxgen.data import DataSpec

  c = cfg.validate(cfg.load('experiments/rectified_flow/toy2d.py:smoke'))
  spec = DataSpec('toy2d:moons', (2,), -4.5, 4.5, None, None, 'none')
  model = rf.build(c, spec)
  x = jax.random.normal(jax.random.PRNGKey(0), (8, 2))
  params = model.init(jax.random.PRNGKey(1), x)
  loss, _ = model.loss(params, {'x': x}, jax.random.PRNGKey(2))
  grads = jax.grad(lambda p: model.loss(p, {'x': x}, jax.random.PRNGKey(2))[0])(params)
  assert np.isfinite(float(loss)) and all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))
  settings = model.sampling_settings(c.sampling)
  samples, info = model.sample(params, jax.random.PRNGKey(3), 5, settings)
  assert samples.shape == (5, 2) and int(info['nfe']) == c.sampling.steps
  assert model.log_prob(params, {'x': x}, jax.random.PRNGKey(4)).shape == (8,)
  assert model.sampling_label(settings) == 'euler' and not model.adaptive_ode(settings)
  rk45 = model.sampling_settings({'solver': 'RK45'})
  assert model.adaptive_ode(rk45) and model.sampling_label(rk45) == 'dopri5'
  with pytest.raises(TypeError, match=r'pass model.sampling_settings\(section\)'):
    model.sample(params, jax.random.PRNGKey(3), 5, c.sampling)


def tiny_model():
  from jaxgen.data import DataSpec

  c = cfg.validate(cfg.load('experiments/rectified_flow/toy2d.py:smoke'))
  model = rf.build(c, DataSpec('toy2d:moons', (2,), -4.5, 4.5, None, None, 'none'))
  return c, model, model.init(jax.random.PRNGKey(1), jnp.zeros((8, 2)))


SSPRK3 = solvers.explicit_rk(a=[[], [1.0], [0.25, 0.25]], b=[1 / 6, 1 / 6, 2 / 3],
                             c=[0.0, 1.0, 0.5])


def test_a_solver_function_and_a_grid_array_reach_the_sampler():
  """model.sample with SolverSpec(SSP-RK3 function, grid array of 6 times): nfe = 3 x 5 and the
  samples equal a dict / section naming the same solve (heun vs rk4 would differ); the grid
  array is what is stepped through (equal to the same grid by name), and its label is 'custom'."""
  c, model, params = tiny_model()
  grid = np.asarray(solvers.SolverSpec(grid='shift', shift=3.0, steps=5).time_grid(0.0, 1.0))
  spec = solvers.SolverSpec(solver=SSPRK3, grid=grid)
  rng = jax.random.PRNGKey(3)
  x, info = jax.jit(lambda p, r: model.sample(p, r, 16, spec))(params, rng)
  assert x.shape == (16, 2) and np.all(np.isfinite(x)) and int(info['nfe']) == 15
  by_name = dict(c.sampling.to_dict(), solver=SSPRK3, grid='shift', shift=3.0, steps=5)
  x_name, _ = model.sample(params, rng, 16, model.sampling_settings(by_name))
  np.testing.assert_allclose(x, x_name, rtol=1e-6, atol=1e-6)
  x_heun, _ = model.sample(params, rng, 16, spec.replace(solver='heun'))
  assert float(jnp.max(jnp.abs(x - x_heun))) > 1e-6
  assert model.sampling_label(spec) == 'custom' and not model.adaptive_ode(spec)
  with pytest.raises(ValueError, match='grid array runs from 0.0 to 1.0 but this integration '
                                       'goes from 0.5'):
    model.sample(params, rng, 4, model.sampling_settings(dict(by_name, grid=grid, t_start=0.5)))


def test_a_solver_function_reaches_the_likelihood():
  """For a smooth network (random init scaled by 0.3), model.log_prob with likelihood=
  SolverSpec(SSP-RK3 function, 200 steps) agrees with dopri5 at rtol = atol = 1e-7 (a dict
  override) within 2e-4 nats (measured 3e-5); a dict with the grid array of those 200 uniform
  steps from 1 to 0 gives the same values; the run's divergence estimator (exact trace) stays."""
  c, model, params = tiny_model()
  params = jax.tree.map(lambda p: 0.3 * p, params)
  x = jax.random.normal(jax.random.PRNGKey(0), (8, 2))
  rng = jax.random.PRNGKey(4)
  ref = model.log_prob(params, {'x': x}, rng, {'rtol': 1e-7, 'atol': 1e-7})
  rk3 = model.log_prob(params, {'x': x}, rng, solvers.SolverSpec(solver=SSPRK3, steps=200))
  np.testing.assert_allclose(rk3, ref, atol=2e-4)
  grid = np.asarray(solvers.SolverSpec(steps=200).time_grid(1.0, 0.0))
  arr = model.log_prob(params, {'x': x}, rng, {'solver': SSPRK3, 'grid': grid})
  np.testing.assert_allclose(arr, rk3, rtol=1e-6, atol=1e-6)


def test_a_partial_dict_merges_over_the_runs_sampling_and_likelihood():
  """On a run with sampling.solver='heun', the settings of {'steps': 5} still use heun
  (nfe = 2 x 5); a likelihood dict {'probes': 1} keeps the run's solver, rtol and atol (the same
  values as the run's whole section with probes = 1)."""
  from jaxgen.data import DataSpec

  c = cfg.load('experiments/rectified_flow/toy2d.py:smoke')
  c.sampling.solver = 'heun'
  c.likelihood.update(dict(solver='tsit5', rtol=1e-3, atol=1e-3))
  c = cfg.validate(c)
  model = rf.build(c, DataSpec('toy2d:moons', (2,), -4.5, 4.5, None, None, 'none'))
  params = model.init(jax.random.PRNGKey(1), jnp.zeros((8, 2)))
  five = model.sampling_settings({'steps': 5})
  _, info = model.sample(params, jax.random.PRNGKey(3), 4, five)
  assert int(info['nfe']) == 10 and model.sampling_label(five) == 'heun'
  x = jax.random.normal(jax.random.PRNGKey(0), (8, 2))
  rng = jax.random.PRNGKey(4)
  got = model.log_prob(params, {'x': x}, rng, {'probes': 1})
  want = model.log_prob(params, {'x': x}, rng, dict(c.likelihood.to_dict(), probes=1))
  np.testing.assert_array_equal(got, want)
  spec, probes = rf.likelihood_spec({'probes': 1}, 0, rf.likelihood_spec(c.likelihood)[0])
  assert (spec.solver, spec.rtol, spec.atol, probes) == ('tsit5', 1e-3, 1e-3, 1)


@pytest.mark.parametrize('key, value, says', [
    ('loss.mode_scale', 1.8, 'loss.mode_scale=1.8 is out of range'),
    ('loss.mode_scale', -1.5, 'not monotone'),
    ('loss.shift', 0.0, 'loss.shift=0.0 is out of range'),
    ('loss.time_sampling', 'cosmap', "choose one of: 'uniform', 'logit_normal', 'mode'"),
    ('loss.logit_std', 0.0, 'loss.logit_std=0.0 is out of range'),
])
def test_new_keys_have_one_line_range_errors(key, value, says):
  c = cfg.base('rectified_flow')
  section, name = key.split('.')
  c[section][name] = value
  with pytest.raises(cfg.ConfigError, match=r'[^\n]*' + says.replace('(', r'\(').replace(
      ')', r'\)').replace('.', r'\.')) as e:
    cfg.validate(c)
  assert '\n' not in str(e.value)


def test_shift_with_distillation_is_refused():
  c = cfg.base('rectified_flow')
  c.data.name = 'pairs:x.npz'
  c.loss.time_sampling = 'distill'
  c.loss.shift = 2.0
  c.eval.metrics = ('sliced_wasserstein',)
  with pytest.raises(cfg.ConfigError, match="loss.shift=2.0 does not apply to loss.time_sampling"):
    cfg.validate(c)


def test_distillation_without_a_given_coupling_is_refused_naming_the_fix():
  """loss.time_sampling='distill' on a batch without 'x0' is one ValueError naming launch.reflow."""
  from jaxgen.data import DataSpec

  c = cfg.load('experiments/rectified_flow/toy2d.py:smoke')
  c.loss.time_sampling = 'distill'
  model = rf.build(c, DataSpec('toy2d:moons', (2,), -4.5, 4.5, None, None, 'none'))
  x = jnp.zeros((8, 2))
  params = model.init(jax.random.PRNGKey(1), x)
  with pytest.raises(ValueError, match=r"needs 'x0' \(data.name=pairs:.*launch.reflow"):
    model.loss(params, {'x': x}, jax.random.PRNGKey(2))
  assert np.isfinite(float(model.loss(params, {'x': x, 'x0': x + 1}, jax.random.PRNGKey(2))[0]))
