"""The CNF objective of `jaxgen.ode.rnode`: closed-form log-likelihood of a linear flow, the
kinetic integral of a known velocity, and the continuous adjoint's gradient."""

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import expm
from jax.scipy.stats import multivariate_normal

from jaxgen.distributions.normal import standard_normal_logp
from jaxgen.ode import rnode
from jaxgen.ode import solvers

A = jnp.array([[0.3, -0.4], [0.2, -0.1]])
RK4 = solvers.SolverSpec('rk4', steps=32)


def test_linear_flow_log_likelihood_is_the_closed_form():
  """v = A x from t = 1 (data) to t = 0 (N(0, I)): x = e^A z, so p(x) = N(0, e^A e^A^T)."""
  x = jax.random.normal(jax.random.PRNGKey(0), (6, 2)) * 1.5
  logp, st = rnode.log_likelihood(lambda t, y: y @ A.T, x, standard_normal_logp, 1.0, 0.0,
                                  probes=None, solver=RK4)
  m = expm(A)
  want = multivariate_normal.logpdf(x, jnp.zeros(2), m @ m.T)
  np.testing.assert_allclose(np.asarray(logp), np.asarray(want), atol=1e-4)
  # the exact Frobenius term of a constant Jacobian: ||A||_F^2 / D over a unit interval
  np.testing.assert_allclose(np.asarray(st['jacobian']), float(jnp.sum(A**2)) / 2, rtol=1e-5)


def test_kinetic_term_of_a_known_velocity_is_its_integral():
  """v = t c: int_0^1 ||v||^2 / D dt = ||c||^2 / (3 D), whichever way the solve runs; the
  Hutchinson Frobenius estimate of a zero Jacobian is 0."""
  c = jnp.array([[1.0, -2.0, 0.5]])
  x = jnp.zeros((4, 3))
  probes = jax.random.rademacher(jax.random.PRNGKey(0), (2,) + x.shape, jnp.float32)
  for t_data, t_noise in ((1.0, 0.0), (0.0, 1.0)):
    _, st = rnode.log_likelihood(lambda t, y: t * jnp.broadcast_to(c, y.shape), x,
                                 standard_normal_logp, t_data, t_noise, probes=probes, solver=RK4)
    np.testing.assert_allclose(np.asarray(st['kinetic']), float(jnp.sum(c**2)) / 9, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(st['jacobian']), 0.0, atol=1e-7)


def test_backsolve_gradient_approximates_the_discretised_gradient():
  """The continuous adjoint's gradient of -mean log p (dopri5, tight tolerances) is close to
  the gradient of the same solve differentiated through its steps."""
  x = jax.random.normal(jax.random.PRNGKey(1), (5, 2))
  spec = solvers.SolverSpec('dopri5', rtol=1e-6, atol=1e-6)

  def nll(a, adjoint):
    lp, _ = rnode.log_likelihood(lambda t, y: jnp.tanh(y @ a.T), x, standard_normal_logp, 1.0,
                                 0.0, probes=None, solver=spec, adjoint=adjoint)
    return -jnp.mean(lp)

  g_rc = jax.grad(nll)(A, 'recursive_checkpoint')
  g_bs = jax.grad(nll)(A, 'backsolve')
  np.testing.assert_allclose(np.asarray(g_bs), np.asarray(g_rc), atol=1e-3)
  assert float(jnp.max(jnp.abs(g_rc))) > 0.01


def test_gradient_through_the_solve_matches_finite_differences():
  """d/dW of the objective (-mean log p + kinetic + Jacobian, Hutchinson probes fixed) of a tiny
  float64 tanh net, reverse mode through the RK4 steps, equals the central difference."""
  before = jax.config.jax_enable_x64
  jax.config.update('jax_enable_x64', True)
  try:
    x = jax.random.normal(jax.random.PRNGKey(0), (6, 2), jnp.float64)
    probes = jax.random.rademacher(jax.random.PRNGKey(1), (1, 6, 2), jnp.float64)
    w = jax.random.normal(jax.random.PRNGKey(2), (3, 2), jnp.float64)
    d = jax.random.normal(jax.random.PRNGKey(3), (3, 2), jnp.float64)

    def objective(w):
      v = lambda t, y: jnp.tanh(y @ w[:2].T + t * w[2]) @ w[:2]
      lp, st = rnode.log_likelihood(v, x, standard_normal_logp, 1.0, 0.0, probes=probes,
                                    solver=solvers.SolverSpec('rk4', steps=4))
      return jnp.mean(-lp + st['kinetic'] + st['jacobian'])

    analytic = float(jnp.sum(jax.grad(objective)(w) * d))
    h = 1e-6
    numeric = (float(objective(w + h * d)) - float(objective(w - h * d))) / (2 * h)
    assert abs(analytic) > 1e-2
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6)
  finally:
    jax.config.update('jax_enable_x64', before)
