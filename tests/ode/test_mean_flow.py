"""MeanFlow maths (`jaxgen.ode.mean_flow`) on a closed-form flow: noise N(0, I) at t = 0 to data
N(mu, diag(sigma^2)) at t = 1 under linear interpolation with the independent coupling. Its
marginals are N(m_t, diag(s_t^2)), m_t = t mu, s_t^2 = (1 - t)^2 + t^2 sigma^2; the flow's ODE
is affine, z_r = m_r + (s_r / s_t)(z_t - m_t), so the average velocity is
u(z, r, t) = (z_r - z) / (r - t) and the velocity v = m' + (s' / s)(z - m)."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen.ode import mean_flow

MU = jnp.array([2.0, -1.0])
SIGMA = jnp.array([0.5, 1.5])


def _b(a, like):
  return a.reshape(a.shape + (1,) * (like.ndim - a.ndim))


def _m_s(t):
  t = _b(jnp.asarray(t, jnp.float32), MU[None])
  return t * MU, jnp.sqrt((1 - t) ** 2 + t ** 2 * SIGMA ** 2)


def velocity(z, t):
  m, s = _m_s(t)
  ds = (-(1 - _b(t, z)) + _b(t, z) * SIGMA ** 2) / s
  return MU + ds / s * (z - m)


def average_velocity(z, r, t):
  """The closed form; at r = t (where it is 0 / 0) the velocity itself."""
  m_t, s_t = _m_s(t)
  m_r, s_r = _m_s(r)
  h = _b(r - t, z)
  safe = jnp.where(h == 0, 1.0, h)
  return jnp.where(h == 0, velocity(z, t), (m_r - m_t + (s_r / s_t - 1) * (z - m_t)) / safe)


def _points(n=64, seed=0):
  k = jax.random.split(jax.random.PRNGKey(seed), 3)
  t, r = mean_flow.sample_times(k[0], n, mean_flow.TimePairs(kind='uniform', ratio=1.0))
  m, s = _m_s(t)
  return m + s * jax.random.normal(k[1], (n, 2)), t, r


def test_closed_form_average_velocity_is_the_integral_of_the_velocity_along_the_path():
  """z_t + (r - t) u(z_t, r, t) equals the RK4 solution (2000 steps) of dz/ds = v(z, s) from t
  to r: the closed form the other tests use is the flow's average velocity."""
  z, t, r = _points()
  n = 2000
  h = (r - t) / n

  def rk4(i, x):
    s = t + i * h
    k1 = velocity(x, s)
    k2 = velocity(x + _b(h / 2, x) * k1, s + h / 2)
    k3 = velocity(x + _b(h / 2, x) * k2, s + h / 2)
    k4 = velocity(x + _b(h, x) * k3, s + h)
    return x + _b(h / 6, x) * (k1 + 2 * k2 + 2 * k3 + k4)

  z_r = jax.lax.fori_loop(0, n, rk4, z)
  np.testing.assert_allclose(z + _b(r - t, z) * average_velocity(z, r, t), z_r, atol=1e-4)


def test_target_of_the_exact_average_velocity_is_itself():
  """With the network = the exact u and the tangent = the exact velocity, the MeanFlow target
  v - (t - r) du/dt (jvp along (v, 0, 1)) equals u: the identity, at the optimum."""
  z, t, r = _points()
  u, u_tgt = mean_flow.target(average_velocity, z, t, r, velocity(z, t))
  np.testing.assert_allclose(u, average_velocity(z, r, t), rtol=1e-6)
  np.testing.assert_allclose(u_tgt, u, atol=2e-5)
  assert float(jnp.max(jnp.abs(r - t))) > 0.5     # the pairs are far apart, not r = t


def test_jvp_total_derivative_matches_central_differences():
  """du/dt from the jvp equals (u(z + h v, r, t + h) - u(z - h v, r, t - h)) / 2h."""
  z, t, r = _points()
  keep = (t > 0.01) & (r - t > 0.01)
  z, t, r = z[keep], t[keep], r[keep]
  v = velocity(z, t)
  _, dudt = jax.jvp(average_velocity, (z, r, t), (v, jnp.zeros_like(r), jnp.ones_like(t)))
  h = 1e-3
  fd = (average_velocity(z + h * v, r, t + h) - average_velocity(z - h * v, r, t - h)) / (2 * h)
  np.testing.assert_allclose(dudt, fd, rtol=2e-2, atol=2e-3)


def test_loss_is_zero_at_the_optimum_with_the_marginal_velocity():
  """mean_flow.loss with u exact and the conditional velocity x1 - x0 replaced by the marginal
  v(z_t, t) (through `guide`): both the weighted loss and the squared error are ~0, for every
  fraction of r != t; with x1 - x0 itself the error is not 0 (the regression's noise)."""
  x1 = MU + SIGMA * jax.random.normal(jax.random.PRNGKey(1), (256, 2))
  for ratio in (0.0, 0.25, 1.0):
    tp = mean_flow.TimePairs(ratio=ratio)
    w, sq = mean_flow.loss(average_velocity, x1, jax.random.PRNGKey(2), tp,
                           guide=lambda z, t, v: velocity(z, t))
    assert float(jnp.max(sq)) < 1e-8 and float(jnp.max(w)) < 1e-4, ratio
  w, sq = mean_flow.loss(average_velocity, x1, jax.random.PRNGKey(2), mean_flow.TimePairs())
  assert float(jnp.mean(sq)) > 0.1


def test_time_pairs_order_and_fraction():
  """t <= r, in (0, 1); exactly b - round(ratio b) pairs have r = t (the first ones)."""
  t, r = mean_flow.sample_times(jax.random.PRNGKey(0), 100, mean_flow.TimePairs(ratio=0.25))
  assert bool(jnp.all(t <= r)) and bool(jnp.all((t > 0) & (r < 1)))
  assert int(jnp.sum(t == r)) == 75 and bool(jnp.all(t[:75] == r[:75]))


def test_one_step_sample_of_the_exact_average_velocity_has_the_data_mean_and_covariance():
  """z1 = z0 + u(z0, 1, 0) maps N(0, I) to N(mu, diag(sigma^2)): sample mean and covariance of
  20000 draws within 4 standard errors; the 2-step sampler lands on the same points."""
  z0 = jax.random.normal(jax.random.PRNGKey(3), (20000, 2))
  x, info = mean_flow.sample(average_velocity, z0, 1)
  assert info['nfe'] == 1
  se = SIGMA / np.sqrt(z0.shape[0])
  assert np.all(np.abs(np.mean(x, 0) - MU) < 4 * se)
  cov = np.cov(np.asarray(x).T)
  np.testing.assert_allclose(np.diag(cov), SIGMA ** 2, rtol=4 * np.sqrt(2 / z0.shape[0]))
  assert abs(cov[0, 1]) < 4 * float(SIGMA[0] * SIGMA[1]) / np.sqrt(z0.shape[0])
  x2, info2 = mean_flow.sample(average_velocity, z0, 2)
  assert info2['nfe'] == 2
  np.testing.assert_allclose(x2, x, atol=1e-4)


def test_guided_velocity_is_the_papers_combination():
  v, c, u = jnp.array(1.0), jnp.array(2.0), jnp.array(4.0)
  assert float(mean_flow.guided_velocity(v, c, u, 1.0)) == 1.0
  assert float(mean_flow.guided_velocity(v, c, u, 2.0)) == 2.0 * 1.0 - 4.0
  assert float(mean_flow.guided_velocity(v, c, u, 2.0, 0.5)) == 2.0 + 1.0 - 1.5 * 4.0
