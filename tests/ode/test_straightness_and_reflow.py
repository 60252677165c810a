"""Reflow maths against closed forms: straightness, the k-RF loss on a given coupling, distillation.

Time convention: t = 0 noise, t = 1 data. Facts used:
* Straightness S = E ∫_0^1 ||Δ - v(t, Z_t)||^2 dt = E ∫ ||v||^2 dt - E ||Δ||^2, Δ = Z_1 - Z_0.
* The rotation v(t, x) = w J x (J the 90° rotation) moves z along a circle at speed w |z|:
  ∫ ||v||^2 dt = w^2 |z|^2 and |Δ|^2 = |R(w) z - z|^2 = 2 (1 - cos w) |z|^2, so
  S = (w^2 - 2 (1 - cos w)) E|z|^2; on an N-interval grid the chords have length
  2 sin(w / 2N) |z|, so S_N = ((2 N sin(w / 2N))^2 - 2 (1 - cos w)) |z|^2 for each z.
* A deterministic affine coupling z1 = A z0 + m is straight: x_t = z0 + t ((A - I) z0 + m), so
  its velocity field is v(t, x) = (A - I) (I + t (A - I))^{-1} (x - t m) + m, exact on every pair.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgen.models import rectified_flow as rf
from jaxgen.ode import flow
from jaxgen.ode import straightness as st

D = 2
A = jnp.array([2.0, 0.5])       # diagonal of the affine map z1 = A z0 + M
M = jnp.array([1.5, -1.0])


def straight_field(t, x):
  """The velocity of the straight interpolation of z1 = A z0 + M (A diagonal)."""
  t = jnp.broadcast_to(jnp.asarray(t, jnp.float32), x.shape[:1])[:, None]
  return (A - 1) / (1 + t * (A - 1)) * (x - t * M) + M


def rotation(w):
  return lambda t, x: w * jnp.stack([-x[:, 1], x[:, 0]], -1)


def sampling_cfg(**kw):
  """The family's default sampling settings with ``kw``, as the SolverSpec the maths takes."""
  c = rf.defaults().sampling
  c.update(kw)
  return rf.sampling_settings(c).ode


@pytest.mark.parametrize('solver', ['euler', 'rk4', 'dopri5'])
def test_straight_trajectories_have_zero_straightness(solver):
  """Constant shift (the exact 1-RF field from N(0, I) to N(m, I)) and the affine coupling's
  field: S_N = 0 to float tolerance, whatever the solver (Euler is exact on straight fields)."""
  c = sampling_cfg(solver=solver, steps=8)
  for v in (lambda t, x: jnp.broadcast_to(M, x.shape), straight_field):
    s = flow.straightness(v, jax.random.PRNGKey(0), 256, (D,), c)
    assert s.shape == (256,) and float(jnp.max(jnp.abs(s))) < 1e-5


def test_rotation_straightness_matches_its_closed_form():
  """w = pi/2, RK4 points on N = 16 and 256 intervals: S_N per sample equals
  ((2N sin(w/2N))^2 - 2(1 - cos w)) |z0|^2, which tends to (w^2 - 2(1 - cos w)) |z0|^2."""
  w, rng = np.pi / 2, jax.random.PRNGKey(1)
  z2 = np.sum(np.asarray(jax.random.normal(rng, (64, D))) ** 2, -1)
  exact = (w ** 2 - 2 * (1 - np.cos(w))) * z2
  for n in (16, 256):
    s = flow.straightness(rotation(w), rng, 64, (D,), sampling_cfg(solver='rk4', steps=n))
    discrete = ((2 * n * np.sin(w / (2 * n))) ** 2 - 2 * (1 - np.cos(w))) * z2
    np.testing.assert_allclose(s, discrete, rtol=1e-4, atol=1e-6)
  np.testing.assert_allclose(s, exact, rtol=1e-4)
  assert np.all(np.asarray(s) > 0)


def test_straightness_on_a_grid_array():
  """A spec's grid array is the grid S_N is taken on: the edm grid passed as its array gives the
  named grid's S_N, and a straight field has S_N = 0 on an arbitrary non-uniform array."""
  x0 = jax.random.normal(jax.random.PRNGKey(2), (16, D))
  named = sampling_cfg(solver='rk4', steps=10, grid='edm')
  arr = named.replace(grid=np.asarray(named.time_grid(0.0, 1.0)))
  want, _ = st.straightness(rotation(1.0), x0, 0.0, 1.0, named)
  got, stats = st.straightness(rotation(1.0), x0, 0.0, 1.0, arr)
  np.testing.assert_allclose(got, want, rtol=1e-6)
  assert int(stats['nfe']) == 4 * 10
  odd = named.replace(solver='euler', grid=[0.0, 0.1, 0.15, 0.6, 1.0])
  s, _ = st.straightness(straight_field, x0, 0.0, 1.0, odd)
  assert float(jnp.max(jnp.abs(s))) < 1e-5


def test_straightness_does_not_depend_on_the_direction_of_time():
  """The same circle run backwards, on [1, 0], has the same S_N."""
  x0 = jax.random.normal(jax.random.PRNGKey(2), (16, D))
  c = sampling_cfg(solver='rk4', steps=12)
  fwd, _ = st.straightness(rotation(1.0), x0, 0.0, 1.0, c)
  bwd, _ = st.straightness(rotation(-1.0), x0, 1.0, 0.0, c)
  np.testing.assert_allclose(fwd, bwd, rtol=1e-5)


def test_coupling_is_the_noise_and_the_sample_of_the_same_key():
  """The family's 'coupling' extra returns the N(0, I) draw of the key and the very sample
  ``sample`` returns for it (reflow pairs are the flow's own samples)."""
  from jaxgen.data import DataSpec
  from jaxgen.runtime import config as cfg

  c = cfg.validate(cfg.load('experiments/rectified_flow/toy2d.py:smoke'))
  model = rf.build(c, DataSpec('toy', (D,), -4.5, 4.5, None, None, 'none'))
  params = model.init(jax.random.PRNGKey(0), jnp.zeros((8, D)))
  s = model.sampling_settings({'steps': 5, 'solver': 'euler'})
  z0, z1, info = model.extras['coupling'](params, jax.random.PRNGKey(3), 8, s)
  x, _ = model.sample(params, jax.random.PRNGKey(3), 8, s)
  np.testing.assert_array_equal(z1, x)
  np.testing.assert_array_equal(z0, jax.random.normal(jax.random.PRNGKey(3), (8, D)))
  assert int(info['nfe']) == 5


def loss_cfg(**kw):
  """The family's default training times with ``kw``, as the TimeSampling the maths takes."""
  c = rf.defaults().loss
  c.update(kw)
  return rf.time_sampling(c)


def affine_pairs(n, seed=0):
  z0 = jax.random.normal(jax.random.PRNGKey(seed), (n, D))
  return z0, A * z0 + M


def test_krf_loss_is_zero_on_a_straight_coupling_and_1rf_loss_is_the_conditional_variance():
  """k-RF (x0 given): the straight field fits every pair, loss 0. 1-RF on the same data with
  independent noise: the loss at its optimum is E_t[tr Cov(x1 - x0 | x_t)] / D > 0 (closed form
  for diagonal Gaussians, per dimension: Var x_t = t^2 a^2 + (1-t)^2, Cov = t a^2 - (1 - t))."""
  lc = loss_cfg()
  z0, z1 = affine_pairs(100000)
  krf = flow.loss(straight_field, z1, jax.random.PRNGKey(1), lc, x0=z0)
  assert float(jnp.max(krf)) < 1e-9

  def v_1rf(t, x):   # E[x1 - x0 | x_t = x] for x0 ~ N(0, I) independent of x1 ~ N(M, A^2)
    t = jnp.broadcast_to(jnp.asarray(t, jnp.float32), x.shape[:1])[:, None]
    var = t ** 2 * A ** 2 + (1 - t) ** 2
    return M + (t * A ** 2 - (1 - t)) / var * (x - t * M)

  onerf = flow.loss(v_1rf, z1, jax.random.PRNGKey(1), lc)
  ts = np.linspace(lc.eps, 1, 20001)[:, None]
  a2 = np.asarray(A) ** 2
  var = ts ** 2 * a2 + (1 - ts) ** 2
  cond = np.mean((a2 + 1) - (ts * a2 - (1 - ts)) ** 2 / var, -1)
  expected = np.trapezoid(cond, ts[:, 0]) / (1 - lc.eps)
  se = float(np.std(onerf)) / np.sqrt(len(onerf))
  assert expected > 0.1 and abs(float(onerf.mean()) - expected) < 4 * se


def test_model_loss_reads_the_coupling_from_the_batch():
  from jaxgen.runtime import config as cfg
  from jaxgen.data import DataSpec

  c = cfg.validate(cfg.load('experiments/rectified_flow/toy2d.py:smoke'))
  model = rf.build(c, DataSpec('pairs:x', (D,), -4.5, 4.5, None, None, 'none'))
  z0, z1 = affine_pairs(8)
  params = model.init(jax.random.PRNGKey(0), z1)
  rng = jax.random.PRNGKey(5)
  got, _ = model.loss(params, {'x': z1, 'x0': z0}, rng)
  v = lambda t, x: model.velocity(params, t, x)
  want = jnp.mean(flow.loss(v, z1, jax.random.split(rng)[0], rf.time_sampling(c.loss), x0=z0))
  np.testing.assert_allclose(got, want, rtol=1e-6)
  assert abs(float(model.loss(params, {'x': z1}, rng)[0]) - float(got)) > 1e-4  # fresh noise


def test_distill_times_are_the_k_euler_times():
  t = flow.sample_time(jax.random.PRNGKey(0), 4000, loss_cfg(time_sampling='distill',
                                                          distill_steps=4))
  assert sorted(set(np.asarray(t).tolist())) == [0.0, 0.25, 0.5, 0.75]
  t1 = flow.sample_time(jax.random.PRNGKey(0), 10, loss_cfg(time_sampling='distill'))
  assert np.all(np.asarray(t1) == 0)


def test_distill_loss_is_zero_at_the_map_and_grows_by_the_squared_error():
  """1 step: ||(z1 - z0) - v(0, z0)||^2 is 0 for v(0, z) = (A - I) z + M and exactly |d|^2 / D
  for v + d. k = 2 steps: the straight field is exact at t in {0, 1/2} too."""
  z0, z1 = affine_pairs(512)
  lc = loss_cfg(time_sampling='distill')
  exact = lambda t, x: (A - 1) * x + M
  assert float(jnp.max(flow.loss(exact, z1, jax.random.PRNGKey(0), lc, x0=z0))) < 1e-10
  d = jnp.array([0.3, -0.1])
  off = flow.loss(lambda t, x: exact(t, x) + d, z1, jax.random.PRNGKey(0), lc, x0=z0)
  np.testing.assert_allclose(off, float(jnp.mean(d ** 2)), rtol=1e-5)
  lc2 = loss_cfg(time_sampling='distill', distill_steps=2)
  assert float(jnp.max(flow.loss(straight_field, z1, jax.random.PRNGKey(0), lc2, x0=z0))) < 1e-9
  with pytest.raises(ValueError, match='given coupling: pass x0'):
    flow.loss(exact, z1, jax.random.PRNGKey(0), lc)


def test_one_step_distillation_of_a_linear_model_recovers_the_affine_map():
  """v(t, x) = W x + b trained 300 Adam steps on the distillation loss of z1 = A z0 + M:
  one Euler step z0 + v(0, z0) reproduces A z0 + M on fresh points to 1e-3."""
  lc = loss_cfg(time_sampling='distill')
  params = {'w': jnp.zeros((D, D)), 'b': jnp.zeros(D)}
  tx = optax.adam(0.05)

  def loss(p, rng):
    z0, z1 = affine_pairs(256, seed=rng)
    v = lambda t, x: x @ p['w'] + p['b']
    return jnp.mean(flow.loss(v, z1, jax.random.PRNGKey(0), lc, x0=z0))

  def step(carry, i):
    p, s = carry
    g = jax.grad(loss)(p, i)
    u, s = tx.update(g, s, p)
    return (optax.apply_updates(p, u), s), None

  (params, _), _ = jax.lax.scan(step, (params, tx.init(params)), jnp.arange(300))
  z0, z1 = affine_pairs(100, seed=10**6)
  np.testing.assert_allclose(z0 + z0 @ params['w'] + params['b'], z1, atol=1e-3)
