"""Rectified flow maths against closed forms, with Gaussian data x1 ~ N(m, s^2 I).

With x0 ~ N(0, I) independent of x1 and x_t = t x1 + (1 - t) x0, everything is Gaussian:
  Var x_t = t^2 s^2 + (1 - t)^2,   Cov(x1 - x0, x_t) = t s^2 - (1 - t),
  v*(t, x) = E[x1 - x0 | x_t = x] = m + c(t) (x - t m),   c(t) = Cov / Var x_t,
  and the loss at v* is the conditional variance (s^2 + 1) - Cov^2 / Var x_t, averaged over t.
The ODE dx/dt = v*(t, x) transports N(0, I) exactly to N(m, s^2 I).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.models import rectified_flow as rf
from jaxgen.ode import solvers

M, S, D = 1.5, 0.5, 3


def v_star(t, x):
  t = jnp.broadcast_to(jnp.asarray(t, jnp.float32), x.shape[:1])[:, None]
  var = t ** 2 * S ** 2 + (1 - t) ** 2
  return M + (t * S ** 2 - (1 - t)) / var * (x - t * M)


def loss_cfg(**kw):
  c = rf.defaults().loss
  c.update(kw)
  return c


def test_loss_at_the_optimal_velocity_is_the_conditional_variance():
  lc = loss_cfg()
  x1 = M + S * jax.random.normal(jax.random.PRNGKey(0), (200000, D))
  per_example = rf.flow_loss(v_star, x1, jax.random.PRNGKey(1), lc)
  ts = np.linspace(lc.eps, 1, 20001)
  var = ts ** 2 * S ** 2 + (1 - ts) ** 2
  cond_var = (S ** 2 + 1) - (ts * S ** 2 - (1 - ts)) ** 2 / var
  expected = np.trapezoid(cond_var, ts) / (1 - lc.eps)
  se = float(np.std(per_example)) / np.sqrt(len(per_example))
  assert abs(float(per_example.mean()) - expected) < 4 * se, (float(per_example.mean()), expected, se)


def test_loss_is_larger_for_a_wrong_velocity():
  lc = loss_cfg()
  x1 = M + S * jax.random.normal(jax.random.PRNGKey(0), (20000, D))
  good = rf.flow_loss(v_star, x1, jax.random.PRNGKey(1), lc).mean()
  bad = rf.flow_loss(lambda t, x: v_star(t, x) + 0.3, x1, jax.random.PRNGKey(1), lc).mean()
  np.testing.assert_allclose(bad - good, 0.09, rtol=0.05)   # E||v* + 0.3 - y||^2 - E||v* - y||^2 = 0.3^2


def test_logit_normal_times_lie_in_the_unit_interval_with_median_one_half():
  t = rf.sample_time(jax.random.PRNGKey(0), 100000, loss_cfg(time_sampling='logit_normal'))
  assert float(t.min()) > 0 and float(t.max()) < 1
  assert abs(float(jnp.median(t)) - 0.5) < 0.01


def sampling_cfg(**kw):
  """The family's default sampling settings with ``kw``, as the SolverSpec the maths takes."""
  c = rf.defaults().sampling
  c.update(kw)
  return rf.sampling_spec(c)[0]


def test_euler_with_the_exact_velocity_transports_noise_to_the_data():
  """n = 20000 samples: mean within 4 s.e. (s / sqrt(n)), std within 2%."""
  x, stats = rf.sample_flow(v_star, jax.random.PRNGKey(0), 20000, (D,), sampling_cfg(steps=200))
  assert int(stats['nfe']) == 200
  assert np.all(np.abs(np.asarray(x.mean(0)) - M) < 4 * S / np.sqrt(20000))
  np.testing.assert_allclose(np.asarray(x.std(0)), S, rtol=0.02)


@pytest.mark.parametrize('probes', [0, 4])
def test_log_prob_matches_the_gaussian_density(probes):
  """Exact divergence: within 1e-3 nats per dimension of log N(x; m, s^2 I) at rtol = atol = 1e-5.
  Hutchinson (4 Rademacher probes): the divergence of this linear field has J = c(t) I, so the
  Rademacher estimate e^T J e = c(t) D is exact as well."""
  x = M + S * jax.random.normal(jax.random.PRNGKey(3), (64, D))
  lc = rf.defaults().likelihood   # dopri5, rtol = atol = 1e-5
  lc.probes = probes
  logp = rf.flow_log_prob(v_star, x, jax.random.PRNGKey(4), *rf.likelihood_spec(lc))
  exact = jnp.sum(-0.5 * ((x - M) / S) ** 2 - jnp.log(S) - 0.5 * jnp.log(2 * jnp.pi), -1)
  assert float(jnp.max(jnp.abs(logp - exact))) / D < 1e-3


def test_model_record_end_to_end_on_tiny_shapes():
  from jaxgen.runtime import config as cfg
  from jaxgen.data import DataSpec

  c = cfg.validate(cfg.load('experiments/rectified_flow/toy2d.py:smoke'))
  spec = DataSpec('toy2d:moons', (2,), -4.5, 4.5, None, None, 'none')
  model = rf.build(c, spec)
  x = jax.random.normal(jax.random.PRNGKey(0), (8, 2))
  params = model.init(jax.random.PRNGKey(1), x)
  loss, _ = model.loss(params, {'x': x}, jax.random.PRNGKey(2))
  grads = jax.grad(lambda p: model.loss(p, {'x': x}, jax.random.PRNGKey(2))[0])(params)
  assert np.isfinite(float(loss)) and all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))
  samples, info = model.sample(params, jax.random.PRNGKey(3), 5, c.sampling)
  assert samples.shape == (5, 2) and int(info['nfe']) == c.sampling.steps
  assert model.log_prob(params, {'x': x}, jax.random.PRNGKey(4)).shape == (8,)
  assert model.sampling_label(c.sampling) == 'euler' and not model.adaptive_ode(c.sampling)
  assert model.adaptive_ode({'solver': 'rk45'}) and model.sampling_label({'solver': 'RK45'}) == 'dopri5'


def tiny_model():
  from jaxgen.runtime import config as cfg
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
  x_name, _ = model.sample(params, rng, 16, by_name)
  np.testing.assert_allclose(x, x_name, rtol=1e-6, atol=1e-6)
  x_heun, _ = model.sample(params, rng, 16, spec.replace(solver='heun'))
  assert float(jnp.max(jnp.abs(x - x_heun))) > 1e-6
  assert model.sampling_label(spec) == 'custom' and not model.adaptive_ode(spec)
  with pytest.raises(ValueError, match='grid array runs from 0.0 to 1.0 but this integration '
                                       'goes from 0.5'):
    model.sample(params, rng, 4, dict(by_name, grid=grid, t_start=0.5))


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
  """On a run with sampling.solver='heun', model.sample(..., {'steps': 5}) still uses heun
  (nfe = 2 x 5); a likelihood dict {'probes': 1} keeps the run's solver, rtol and atol (the same
  values as the run's whole section with probes = 1)."""
  from jaxgen.runtime import config as cfg
  from jaxgen.data import DataSpec

  c = cfg.load('experiments/rectified_flow/toy2d.py:smoke')
  c.sampling.solver = 'heun'
  c.likelihood.update(dict(solver='tsit5', rtol=1e-3, atol=1e-3))
  c = cfg.validate(c)
  model = rf.build(c, DataSpec('toy2d:moons', (2,), -4.5, 4.5, None, None, 'none'))
  params = model.init(jax.random.PRNGKey(1), jnp.zeros((8, 2)))
  _, info = model.sample(params, jax.random.PRNGKey(3), 4, {'steps': 5})
  assert int(info['nfe']) == 10 and model.sampling_label({'steps': 5}) == 'heun'
  x = jax.random.normal(jax.random.PRNGKey(0), (8, 2))
  rng = jax.random.PRNGKey(4)
  got = model.log_prob(params, {'x': x}, rng, {'probes': 1})
  want = model.log_prob(params, {'x': x}, rng, dict(c.likelihood.to_dict(), probes=1))
  np.testing.assert_array_equal(got, want)
  spec, probes = rf.likelihood_spec({'probes': 1}, 0, rf.likelihood_spec(c.likelihood)[0])
  assert (spec.solver, spec.rtol, spec.atol, probes) == ('tsit5', 1e-3, 1e-3, 1)
