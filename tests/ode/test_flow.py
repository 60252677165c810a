"""Rectified-flow maths (`jaxgen.ode.flow`) against closed forms, with Gaussian data N(m, s^2 I).

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

from jaxgen.distributions.normal import standard_normal_logp
from jaxgen.ode import flow
from jaxgen.ode import likelihood as likelihood_lib
from jaxgen.ode import solvers

M, S, D = 1.5, 0.5, 3
UNIFORM = flow.TimeSampling()   # U(1e-3, 1)


def v_star(t, x):
  t = jnp.broadcast_to(jnp.asarray(t, jnp.float32), x.shape[:1])[:, None]
  var = t ** 2 * S ** 2 + (1 - t) ** 2
  return M + (t * S ** 2 - (1 - t)) / var * (x - t * M)


def test_interpolation_ends_at_the_coupling_and_moves_along_the_target_velocity():
  """x_0 = x0 and x_1 = x1 exactly; d x_t / dt = x1 - x0 (the regression target) at every t."""
  x0, x1 = jax.random.normal(jax.random.PRNGKey(0), (2, 5, D))
  np.testing.assert_array_equal(flow.interpolate(x0, x1, jnp.zeros(5)), x0)
  np.testing.assert_array_equal(flow.interpolate(x0, x1, jnp.ones(5)), x1)
  t = jnp.linspace(0.1, 0.9, 5)
  slope = jax.jvp(lambda s: flow.interpolate(x0, x1, s), (t,), (jnp.ones(5),))[1]
  np.testing.assert_allclose(slope, x1 - x0, rtol=1e-6, atol=1e-6)


def test_exact_velocity_is_the_conditional_mean_of_the_target():
  """At fixed t, E[(x1 - x0) - v*(t, x_t)] = 0 and the residual is uncorrelated with x_t
  (v* is the regression of x1 - x0 on x_t), over 200000 Gaussian pairs (4 s.e.)."""
  n, t = 200000, 0.3
  k0, k1 = jax.random.split(jax.random.PRNGKey(1))
  x0 = jax.random.normal(k0, (n, D))
  x1 = M + S * jax.random.normal(k1, (n, D))
  xt = flow.interpolate(x0, x1, jnp.full((n,), t))
  r = np.asarray((x1 - x0) - v_star(jnp.full((n,), t), xt))
  se = r.std(0) / np.sqrt(n)
  assert np.all(np.abs(r.mean(0)) < 4 * se)
  corr = np.mean(r * (np.asarray(xt) - np.asarray(xt).mean(0)), 0)
  assert np.all(np.abs(corr) < 4 * np.std(r * np.asarray(xt), 0) / np.sqrt(n))


def test_loss_at_the_optimal_velocity_is_the_conditional_variance():
  x1 = M + S * jax.random.normal(jax.random.PRNGKey(0), (200000, D))
  per_example = flow.loss(v_star, x1, jax.random.PRNGKey(1), UNIFORM)
  ts = np.linspace(UNIFORM.eps, 1, 20001)
  var = ts ** 2 * S ** 2 + (1 - ts) ** 2
  cond_var = (S ** 2 + 1) - (ts * S ** 2 - (1 - ts)) ** 2 / var
  expected = np.trapezoid(cond_var, ts) / (1 - UNIFORM.eps)
  se = float(np.std(per_example)) / np.sqrt(len(per_example))
  assert abs(float(per_example.mean()) - expected) < 4 * se, (float(per_example.mean()), expected)


def test_loss_is_larger_for_a_wrong_velocity():
  x1 = M + S * jax.random.normal(jax.random.PRNGKey(0), (20000, D))
  good = flow.loss(v_star, x1, jax.random.PRNGKey(1), UNIFORM).mean()
  bad = flow.loss(lambda t, x: v_star(t, x) + 0.3, x1, jax.random.PRNGKey(1), UNIFORM).mean()
  # E||v* + 0.3 - y||^2 - E||v* - y||^2 = 0.3^2
  np.testing.assert_allclose(bad - good, 0.09, rtol=0.05)


def test_logit_normal_times_lie_in_the_unit_interval_with_median_one_half():
  t = flow.sample_time(jax.random.PRNGKey(0), 100000, flow.TimeSampling(kind='logit_normal'))
  assert float(t.min()) > 0 and float(t.max()) < 1
  assert abs(float(jnp.median(t)) - 0.5) < 0.01


def test_an_unknown_time_sampling_is_refused():
  with pytest.raises(ValueError, match="choose one of: uniform, logit_normal, mode, distill"):
    flow.TimeSampling(kind='cosmap')


def test_euler_with_the_exact_velocity_transports_noise_to_the_data():
  """n = 20000 samples: mean within 4 s.e. (s / sqrt(n)), std within 2%."""
  _, x, stats = flow.sample_coupling(v_star, jax.random.PRNGKey(0), 20000, (D,),
                                     solvers.SolverSpec(steps=200))
  assert int(stats['nfe']) == 200
  assert np.all(np.abs(np.asarray(x.mean(0)) - M) < 4 * S / np.sqrt(20000))
  np.testing.assert_allclose(np.asarray(x.std(0)), S, rtol=0.02)


def test_transfer_from_given_x0_is_the_solution_of_the_ode():
  """From given x0 at t = 0 the exact velocity's solution is x1 = m + s x0 (the Gaussian map),
  up to dopri5's tolerance."""
  x0 = jax.random.normal(jax.random.PRNGKey(2), (64, D))
  x1, _ = flow.transfer(v_star, x0, solvers.SolverSpec(solver='dopri5'))
  np.testing.assert_allclose(x1, M + S * x0, atol=1e-3)


@pytest.mark.parametrize('probes', [0, 4])
def test_log_prob_matches_the_gaussian_density(probes):
  """Exact divergence: within 1e-3 nats per dimension of log N(x; m, s^2 I) at rtol = atol = 1e-5.
  Hutchinson (4 Rademacher probes): the divergence of this linear field has J = c(t) I, so the
  Rademacher estimate e^T J e = c(t) D is exact as well."""
  x = M + S * jax.random.normal(jax.random.PRNGKey(3), (64, D))
  logp, _ = likelihood_lib.ode_log_likelihood(
      v_star, x, standard_normal_logp, 1.0, 0.0, rng=jax.random.PRNGKey(4),
      solver=solvers.SolverSpec(solver='dopri5'), **likelihood_lib.estimator(probes))
  exact = jnp.sum(-0.5 * ((x - M) / S) ** 2 - jnp.log(S) - 0.5 * jnp.log(2 * jnp.pi), -1)
  assert float(jnp.max(jnp.abs(logp - exact))) / D < 1e-3
