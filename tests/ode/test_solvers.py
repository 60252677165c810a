"""Facts about `jaxgen.ode.solvers`: orders of convergence, adaptive accuracy, exact NFE counts."""

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from jaxgen.ode import adaptive, solvers
from tests.conftest import Counter

# dx/dt = A x, a damped rotation: x(t) = expm(A t) x0 (known solution, smooth, non-trivial).
A = np.array([[-0.5, -2.0], [2.0, -0.5]], np.float32)
T = 2.0
X0 = np.array([[1.0, 0.0]], np.float32)


def f_linear(t, x):
  return x @ A.T


def exact(t, x0=X0):
  return x0 @ scipy.linalg.expm(A * t).T


@pytest.mark.parametrize('name,order,ns', [
    ('euler', 1, (32, 64, 128, 256)),
    ('heun', 2, (8, 16, 32, 64)),
    ('midpoint', 2, (8, 16, 32, 64)),
    ('rk4', 4, (4, 8, 16, 32)),
])
def test_measured_order_of_convergence(name, order, ns):
  """The slope of log(global error at T) vs log(steps) is -order within 0.3."""
  errs = []
  for n in ns:
    ts = jnp.linspace(0.0, T, n + 1)
    x, st = jax.jit(solvers.get(name).fn, static_argnums=0)(f_linear, jnp.asarray(X0), ts)
    errs.append(np.linalg.norm(np.asarray(x) - exact(T)))
    assert int(st['nfe']) == n * {'euler': 1, 'heun': 2, 'midpoint': 2, 'rk4': 4}[name]
  slope = np.polyfit(np.log(ns), np.log(errs), 1)[0]
  print(f'{name}: measured order {-slope:.3f}')
  assert abs(-slope - order) < 0.3, (name, slope, errs)


@pytest.mark.parametrize('name', ['euler', 'heun', 'midpoint', 'rk4', 'dopri5', 'tsit5'])
def test_decreasing_grid_integrates_backwards(name):
  """Integrating from T down to 0 starting at x(T) recovers x(0) (any grid direction works)."""
  info = solvers.get(name)
  ts = jnp.linspace(T, 0.0, 65)
  x, _ = info.fn(f_linear, jnp.asarray(exact(T), jnp.float32), ts)
  tol = {'euler': 0.3, 'heun': 5e-3, 'midpoint': 5e-3, 'rk4': 1e-5, 'dopri5': 1e-4,
         'tsit5': 1e-4}[name]
  np.testing.assert_allclose(x, X0, atol=tol)


@pytest.mark.parametrize('name', ['dopri5', 'tsit5'])
def test_adaptive_accuracy_and_per_example(name):
  """At rtol=atol=1e-5 the error is < 1e-4; per-example steps give the same answers, and an
  example with a 100x larger initial condition needs more steps than an easy one."""
  x0 = jnp.asarray(np.array([[1.0, 0.0], [0.0, 0.01], [30.0, -20.0]], np.float32))
  ts = jnp.array([0.0, T])
  fn = solvers.get(name).fn
  x, st = jax.jit(lambda x0: fn(f_linear, x0, ts))(x0)
  np.testing.assert_allclose(x, exact(T, np.asarray(x0)), atol=1e-4 * 30)
  xp, stp = jax.jit(lambda x0: fn(f_linear, x0, ts, per_example=True))(x0)
  np.testing.assert_allclose(xp, exact(T, np.asarray(x0)), rtol=1e-4, atol=1e-5)
  per = np.asarray(stp['nfe_per_example'])
  assert per.shape == (3,) and per[2] > per[1]
  assert int(stp['nfe']) == per.max()


@pytest.mark.parametrize('name,per_example', [
    ('euler', False), ('heun', False), ('midpoint', False), ('rk4', False),
    ('dopri5', False), ('tsit5', False), ('dopri5', True), ('tsit5', True)])
def test_nfe_equals_calls_made(name, per_example):
  """stats['nfe'] equals the number of calls of f actually executed (counted by a host callback).

  For per-example adaptive solves the vmapped loop runs max_i(steps_i) iterations for the whole
  batch, so the calls made equal stats['nfe'] = 6 max_i(n_i) + 1.
  """
  f = Counter(lambda t, x: -x * (1.0 + jnp.sin(3.0 * t)))
  cfg = solvers.defaults()
  cfg.solver, cfg.steps, cfg.per_example, cfg.rtol, cfg.atol = name, 7, per_example, 1e-4, 1e-4
  x0 = jnp.asarray(np.array([[1.0], [5.0], [0.01]], np.float32))
  x, st = jax.jit(lambda x0: solvers.integrate(f, x0, 1.0, 0.0, cfg))(x0)
  jax.block_until_ready(x)
  assert f.n == int(st['nfe']), (f.n, st)


def test_integrate_grids_and_pytree_state():
  """integrate reads solver/grid/steps from the config; a pytree state (x, logp) is supported."""
  cfg = solvers.defaults()
  cfg.solver, cfg.steps = 'rk4', 32
  f = lambda t, s: (f_linear(t, s[0]), jnp.full((s[0].shape[0],), 2.0))
  for grid in ('uniform', 'edm', 'shift'):
    cfg.grid, cfg.shift = grid, 3.0
    (x, c), st = jax.jit(lambda x0: solvers.integrate(f, (x0, jnp.zeros(1)), 0.0, T, cfg))(
        jnp.asarray(X0))
    # RK4 with 32 steps; the edm grid makes its first step ~0.4 long (coarser).
    np.testing.assert_allclose(x, exact(T), atol=5e-3 if grid == "edm" else 1e-3)
    np.testing.assert_allclose(c, 2.0 * T, rtol=1e-5)
    assert int(st['nfe']) == 4 * 32
  with pytest.raises(ValueError):
    solvers.integrate(f_linear, jnp.asarray(X0), 0.0, 1.0, {'solver': 'nope'})


def test_sharded_batch():
  """Fixed-step and shared-step adaptive solves of a batch sharded over the 'data' mesh axis give
  the same result as unsharded."""
  devs = np.array(jax.devices())
  mesh = Mesh(devs, ('data',))
  b = 2 * len(devs)
  x0 = jnp.asarray(np.random.RandomState(0).randn(b, 2).astype(np.float32))
  xs = jax.device_put(x0, NamedSharding(mesh, P('data')))
  for name in ('heun', 'dopri5'):
    cfg = {'solver': name, 'steps': 16}
    run = jax.jit(lambda x: solvers.integrate(f_linear, x, 0.0, T, cfg)[0])
    np.testing.assert_allclose(run(xs), run(x0), rtol=1e-5, atol=1e-6)


def test_names_and_defaults():
  assert solvers.names() == ['euler', 'heun', 'midpoint', 'rk4', 'dopri5', 'tsit5']
  d = solvers.defaults()
  assert (d.solver, d.steps, d.grid, d.rtol, d.atol, d.per_example, d.rho, d.shift,
          d.max_steps) == ('euler', 100, 'uniform', 1e-5, 1e-5, False, 7.0, 1.0, 4096)


# SSP-RK3 (Shu-Osher), written by a user from its tableau: 3 stages, order 3.
SSPRK3 = dict(a=[[], [1.0], [0.25, 0.25]], b=[1 / 6, 1 / 6, 2 / 3], c=[0.0, 1.0, 0.5])


def test_user_tableau_ssprk3_has_order_3_and_3_nfe_per_step():
  """explicit_rk from SSP-RK3's tableau: error slope -3 within 0.3 and nfe = 3 per step, also
  when passed as a function in a SolverSpec."""
  ssprk3 = solvers.explicit_rk(**SSPRK3)
  ns, errs = (8, 16, 32, 64), []
  for n in ns:
    x, st = jax.jit(ssprk3, static_argnums=0)(f_linear, jnp.asarray(X0), jnp.linspace(0.0, T, n + 1))
    errs.append(np.linalg.norm(np.asarray(x) - exact(T)))
    assert int(st['nfe']) == 3 * n
  slope = np.polyfit(np.log(ns), np.log(errs), 1)[0]
  assert abs(-slope - 3) < 0.3, (slope, errs)
  spec = solvers.SolverSpec(solver=ssprk3, steps=16)
  assert not spec.adaptive and spec.label == 'custom'
  x, st = solvers.integrate(f_linear, jnp.asarray(X0), 0.0, T, spec)
  assert int(st['nfe']) == 48
  np.testing.assert_allclose(x, exact(T), atol=errs[1] * 1.01)


@pytest.mark.parametrize('a,b,c,match', [
    ([[], [1.0, 0.0]], [0.5, 0.5], [0.0, 1.0], 'rows of lengths'),
    ([[], [1.0]], [0.5, 0.4], [0.0, 1.0], 'sum to 1'),
    ([[], [1.0]], [0.5, 0.5], [0.0, 0.5], 'c_i must equal'),
    ([[], ['x']], [0.5, 0.5], [0.0, 1.0], 'numbers'),
])
def test_bad_tableau_raises(a, b, c, match):
  with pytest.raises(ValueError, match=match):
    solvers.explicit_rk(a, b, c)


@pytest.mark.parametrize('cls', [diffrax.Bosh3, diffrax.Heun])
def test_from_diffrax_integrates_to_tolerance_with_exact_nfe(cls):
  """A wrapped diffrax solver is adaptive, reaches the linear ODE's solution within 1e-4 at
  rtol = atol = 1e-6, and its nfe (FSAL Bosh3: 3 n + 1; Heun: 2 n) equals the calls made."""
  fn = adaptive.from_diffrax(cls)
  spec = solvers.SolverSpec(solver=fn, rtol=1e-6, atol=1e-6, max_steps=100000)
  assert spec.adaptive and spec.label == 'custom'
  f = Counter(f_linear)
  x, st = jax.jit(lambda x0: solvers.integrate(f, x0, 0.0, T, spec))(jnp.asarray(X0))
  jax.block_until_ready(x)
  np.testing.assert_allclose(x, exact(T), atol=1e-4)
  assert f.n == int(st['nfe']) == {diffrax.Bosh3: 3, diffrax.Heun: 2}[cls] * int(
      st['num_steps']) + (cls is diffrax.Bosh3)


def test_from_diffrax_refuses_non_adaptive_or_implicit_solvers():
  for cls in (diffrax.Euler, diffrax.Kvaerno3):
    with pytest.raises(ValueError, match='adaptive explicit Runge-Kutta'):
      adaptive.from_diffrax(cls)


def test_a_grid_array_is_what_the_solver_steps_through():
  """A grid array in a SolverSpec: nfe = stages x intervals, and the result equals the same
  grid by name (the edm grid of 12 steps, passed as its array)."""
  named = solvers.SolverSpec(solver='heun', grid='edm', steps=12)
  arr = np.asarray(named.time_grid(0.0, T))
  spec = solvers.SolverSpec(solver='heun', grid=arr)
  assert spec.grid == tuple(float(t) for t in arr) and hash(spec) == hash(
      solvers.SolverSpec(solver='heun', grid=list(arr)))
  x_arr, st = solvers.integrate(f_linear, jnp.asarray(X0), 0.0, T, spec)
  x_name, _ = solvers.integrate(f_linear, jnp.asarray(X0), 0.0, T, named)
  assert int(st['nfe']) == 2 * (len(arr) - 1)
  np.testing.assert_array_equal(x_arr, x_name)
  with pytest.raises(ValueError, match='runs from 0.0 to 2.0 but this integration goes from 1.0'):
    solvers.integrate(f_linear, jnp.asarray(X0), 1.0, T, spec)


@pytest.mark.parametrize('kw,match', [
    (dict(solver='nope'), r"unknown solver 'nope'; available: euler, heun, midpoint, rk4, dopri5, "
                          r'tsit5, rk45'),
    (dict(grid='nope'), "unknown grid 'nope'; use one of uniform, edm, log_snr, shift"),
    (dict(grid=np.zeros((3, 2))), r'1-D.*shape \(3, 2\).*uniform, edm, log_snr, shift'),
    (dict(grid=[0.0, 0.5, 0.4, 1.0]), 'must be monotone'),
    (dict(grid=[1.0, 1.0]), 'must be monotone'),
    (dict(solver=3), 'solver must be a name'),
    (dict(steps=0), 'steps must be an int >= 1'),
])
def test_bad_spec_raises_with_the_names_listed(kw, match):
  with pytest.raises(ValueError, match=match):
    solvers.SolverSpec(**kw)


def test_from_config_and_labels():
  """from_config reads the fields a section has (others ignored), then defaults; a spec passes
  through; names and aliases label as their canonical name."""
  s = solvers.SolverSpec.from_config({'solver': 'RK45', 'steps': 7, 'num_samples': 3}, rtol=1e-3)
  assert (s.solver, s.steps, s.rtol, s.label, s.adaptive) == ('RK45', 7, 1e-3, 'dopri5', True)
  assert solvers.SolverSpec.from_config(s) is s
  assert solvers.SolverSpec.from_config(solvers.defaults()) == solvers.SolverSpec()


def test_a_grid_array_with_an_adaptive_solver_is_refused():
  """An adaptive solver reads only the end points: the array would be dropped, so it is refused."""
  with pytest.raises(ValueError, match='^grid: an adaptive solver \\(dopri5\\) picks its own steps'):
    solvers.SolverSpec(solver='dopri5', grid=[0.0, 0.5, 1.0])
  with pytest.raises(ValueError, match='^grid: an adaptive solver'):
    solvers.SolverSpec(solver=adaptive.from_diffrax(diffrax.Bosh3), grid=[0.0, 1.0])


def test_from_config_with_a_base_takes_the_keys_a_section_lacks_from_it():
  """base= fills the keys the section lacks (over defaults and the class defaults)."""
  base = solvers.SolverSpec(solver='tsit5', steps=7, rtol=1e-3, atol=1e-4, grid='edm')
  s = solvers.SolverSpec.from_config({'max_steps': 10, 'other': 1}, base=base, rtol=0.5)
  assert s == base.replace(max_steps=10)
  assert solvers.SolverSpec.from_config({}, solver='heun') == solvers.SolverSpec(solver='heun')


def test_labels_of_named_and_user_functions():
  """A function's identifier __name__ is its label, else 'custom'; the named solvers' functions
  label as their names."""
  fn = solvers.explicit_rk(a=[[]], b=[1.0], c=[0.0])
  assert solvers.SolverSpec(solver=fn).label == 'custom'
  fn.__name__ = 'my_euler'
  assert solvers.SolverSpec(solver=fn).label == 'my_euler'
  assert solvers.SolverSpec(solver=lambda f, x0, ts: fn(f, x0, ts)).label == 'custom'
  for name in solvers.names():
    assert solvers.SolverSpec(solver=solvers.get(name).fn).label == name
