"""Flow inpainting by replacement along the interpolation path (`jaxgen.ode.flow_inpaint`).

Facts checked, with the exact velocity of Gaussian data N(mu, S) under rectified flow's path
x_t = t x1 + (1 - t) z0 (z0 ~ N(0, I)): v(t, x) = mu + (t S - (1 - t) I) C_t^-1 (x - t mu),
C_t = t^2 S + (1 - t)^2 I:
  * observed coordinates come back bit for bit (also -0.0), for every fixed-step solver, and
    NFE = the solver's NFE per step x steps; an adaptive solver is refused;
  * exact case, hidden coordinates independent of the observed one (hidden block correlated
    within itself): the imputed block's mean and covariance equal the Gaussian conditional's
    (= its marginal) within 5 Monte Carlo standard errors at n = 20000 (mean: sqrt(v / n);
    variance: v sqrt(2 / n); covariance: sqrt((v1 v2 + c^2) / n)); rk4 with 50 steps, whose
    error on this linear flow is far below that (1e-6);
  * the bias on a correlated case is what the module docstring states (rho = 0.8: mean -0.134,
    variance 0.689 instead of the conditional's 0.100 / 0.360), within the same 5 standard errors.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.ode import flow_inpaint
from jaxgen.ode import solvers

N = 20000


def gaussian_velocity(mu, s):
  mu, s = jnp.asarray(mu, jnp.float32), jnp.asarray(s, jnp.float32)
  eye = jnp.eye(mu.shape[0])

  def v(t, x):
    c = t**2 * s + (1 - t)**2 * eye
    a = (t * s - (1 - t) * eye) @ jnp.linalg.inv(c)
    return mu + (x - t * mu) @ a.T

  return v


def _impute(mu, s, y, mask, spec, n=N, seed=0):
  x_obs = jnp.tile(jnp.asarray(y, jnp.float32)[None], (n, 1))
  fn = jax.jit(lambda k: flow_inpaint.inpaint(gaussian_velocity(mu, s), k, x_obs, mask, spec))
  x, info = fn(jax.random.PRNGKey(seed))
  return np.asarray(x, np.float64), info


def test_exact_when_the_hidden_block_is_independent_of_the_observed():
  mu = np.array([0.5, -0.3, 0.2])
  s = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.6], [0.0, 0.6, 0.5]])
  x, info = _impute(mu, s, [1.5, 0.0, 0.0], jnp.array([True, False, False]),
                    solvers.SolverSpec(solver='rk4', steps=50))
  assert int(info['nfe']) == 4 * 50
  assert (x[:, 0] == np.float32(1.5)).all()
  h = x[:, 1:]
  cm, cs = mu[1:], s[1:, 1:]  # conditional = marginal (S_HO = 0)
  se_mean = np.sqrt(np.diag(cs) / N)
  np.testing.assert_array_less(np.abs(h.mean(0) - cm), 5 * se_mean)
  cov = np.cov(h.T)
  se_var = np.diag(cs) * np.sqrt(2 / N)
  np.testing.assert_array_less(np.abs(np.diag(cov) - np.diag(cs)), 5 * se_var)
  se_c = np.sqrt((cs[0, 0] * cs[1, 1] + cs[0, 1]**2) / N)
  assert abs(cov[0, 1] - cs[0, 1]) < 5 * se_c, (cov, cs)


def test_bias_on_a_correlated_gaussian_is_the_documented_one():
  """Replacement is provably not the conditional when S_HO != 0 (module docstring): pin it."""
  rho, mu = 0.8, np.array([0.5, -0.3])
  s = np.array([[1.0, rho], [rho, 1.0]])
  x, _ = _impute(mu, s, [1.0, 0.0], jnp.array([True, False]),
                 solvers.SolverSpec(solver='rk4', steps=50))
  m, v = x[:, 1].mean(), x[:, 1].var()
  cm, cv = mu[1] + rho * (1.0 - mu[0]), 1 - rho**2
  assert abs(m - (-0.134)) < 5 * np.sqrt(v / N) + 0.001 and abs(v - 0.689) < 5 * v * np.sqrt(2 / N)
  assert abs(m - cm) > 20 * np.sqrt(v / N) and v > cv + 0.25  # far from the conditional


@pytest.mark.parametrize('solver', ['euler', 'heun', 'midpoint', 'rk4'])
def test_observed_pixels_are_kept_bitwise(solver):
  x_obs = jax.random.uniform(jax.random.PRNGKey(1), (2, 4, 4, 3), minval=-1, maxval=1)
  x_obs = x_obs.at[0, 0, 0, 0].set(-0.0)
  mask = jax.random.bernoulli(jax.random.PRNGKey(2), 0.4, (2, 4, 4, 1)).at[0, 0, 0, 0].set(True)
  spec = solvers.SolverSpec(solver=solver, steps=3)
  x, info = flow_inpaint.inpaint(lambda t, y: -y * t, jax.random.PRNGKey(3), x_obs, mask, spec)
  m = np.broadcast_to(np.asarray(mask), x.shape)
  np.testing.assert_array_equal(np.asarray(x).view(np.uint32)[m],
                                np.asarray(x_obs).view(np.uint32)[m])
  assert not np.allclose(np.asarray(x)[~m], np.asarray(x_obs)[~m])
  assert int(info['nfe']) == 3 * {'euler': 1, 'heun': 2, 'midpoint': 2, 'rk4': 4}[solver]


def test_grid_array_and_custom_solver_and_adaptive_refused():
  x_obs = jnp.ones((3, 2))
  mask = jnp.array([True, False])
  spec = solvers.SolverSpec(solver=solvers.explicit_rk([[]], [1.0], [0.0]),
                            grid=(0.0, 0.3, 0.7, 1.0))
  x, info = flow_inpaint.inpaint(lambda t, y: jnp.zeros_like(y), jax.random.PRNGKey(0), x_obs, mask,
                            spec)
  # zero velocity: hidden coordinates stay at z0; 3 steps of 1 NFE
  np.testing.assert_array_equal(np.asarray(x[:, 1]), np.asarray(info['z0'][:, 1]))
  assert int(info['nfe']) == 3
  with pytest.raises(ValueError, match='fixed-step solver'):
    flow_inpaint.inpaint(lambda t, y: y, jax.random.PRNGKey(0), x_obs, mask,
                    solvers.SolverSpec(solver='dopri5'))

