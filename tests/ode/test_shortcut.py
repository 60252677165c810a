"""Shortcut-model maths (`jaxgen.ode.shortcut`): the d = 0 targets are flow matching's; with the
exact velocity of a straight flow the self-consistency target is the 2d velocity and k-step
sampling is exact for every k; the step sizes and times follow the paper's powers of two.

The straight flow: the deterministic coupling x1 = mu + sigma x0 of N(0, I) and N(mu, sigma^2),
interpolated linearly: x_t = t mu + (1 - t + t sigma) x0 moves on a straight line at constant
speed, v(x, t) = mu + (sigma - 1) x0(x, t), so every jump x + d v(x, t) lands on the path."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.ode import shortcut

MU = jnp.array([2.0, -1.0])
SIGMA = jnp.array([0.5, 1.5])
M = 128


def _b(a, like):
  return a.reshape(a.shape + (1,) * (like.ndim - a.ndim))


def straight_velocity(x, t, d=None, rows=None):
  x0 = (x - _b(t, x) * MU) / (1 - _b(t, x) + _b(t, x) * SIGMA)
  return MU + (SIGMA - 1) * x0


def test_targets_at_d_zero_are_the_flow_matching_targets():
  """fraction 0: every example has D = 0 and target x1 - x0 with x_t = t x1 + (1 - t) x0 (x0
  recovered from x_t), t spread over (0, 1); the network is never asked for a target."""
  x1 = jax.random.normal(jax.random.PRNGKey(0), (64, 2))

  def never(*args):
    raise AssertionError('no self-consistency example at fraction 0')

  x_t, t, d, target = shortcut.targets(never, x1, jax.random.PRNGKey(1), 0.0, M)
  assert bool(jnp.all(d == 0)) and float(jnp.min(t)) < 0.1 and float(jnp.max(t)) > 0.9
  x0 = (x_t - _b(t, x1) * x1) / (1 - _b(t, x1))
  np.testing.assert_allclose(target, x1 - x0, atol=1e-4)


def test_self_consistency_target_of_a_straight_flow_is_its_2d_velocity():
  """With s = the exact velocity of a straight flow, (s(x, t) + s(x + d s, t + d)) / 2 equals
  (x_{t+2d} - x_t) / 2d = v(x, t) for every d, at the finest d (queried at d = 0) too."""
  k = jax.random.split(jax.random.PRNGKey(2), 2)
  x0 = jax.random.normal(k[0], (32, 2))
  d = 2.0 ** -jax.random.randint(k[1], (32,), 1, 8).astype(jnp.float32)
  t = jnp.floor(jax.random.uniform(k[1], (32,)) / (2 * d)) * 2 * d
  x = _b(t, x0) * MU + (1 - _b(t, x0) + _b(t, x0) * SIGMA) * x0
  target = shortcut.self_consistency_target(straight_velocity, x, t, d, M)
  x_2d = _b(t + 2 * d, x0) * MU + (1 - _b(t + 2 * d, x0) + _b(t + 2 * d, x0) * SIGMA) * x0
  np.testing.assert_allclose(target, (x_2d - x) / _b(2 * d, x), atol=1e-4)
  np.testing.assert_allclose(target, straight_velocity(x, t), atol=1e-4)


def test_self_consistency_target_averages_the_two_half_steps():
  """For a direction that is not a straight flow's, the target is (s1 + s2) / 2 with s2 taken at
  x + d s1, t + d, and the network sees d, except 0 for the finest d = 1/M."""
  seen = []

  def s(x, t, d):
    seen.append(d)
    return jnp.sin(x) + _b(t + 3 * d, x)

  x, t = jnp.ones((2, 2)), jnp.array([0.0, 0.5])
  d = jnp.array([0.25, 1.0 / M])
  s1 = jnp.sin(x) + _b(t + 3 * jnp.array([0.25, 0.0]), x)
  s2 = jnp.sin(x + _b(d, x) * s1) + _b(t + d + 3 * jnp.array([0.25, 0.0]), x)
  np.testing.assert_allclose(shortcut.self_consistency_target(s, x, t, d, M), (s1 + s2) / 2,
                             rtol=1e-6)
  np.testing.assert_array_equal(seen[0], [0.25, 0.0])


def test_consistency_examples_use_powers_of_two_on_their_grid():
  """fraction 1/4 of 64: 16 examples with D in {1, ..., 2/M}, t a multiple of D with t + D <= 1;
  the other 48 have D = 0."""
  x1 = jax.random.normal(jax.random.PRNGKey(0), (64, 2))
  _, t, d, _ = shortcut.targets(straight_velocity, x1, jax.random.PRNGKey(3), 0.25, M)
  assert bool(jnp.all(d[:48] == 0))
  big, tt = np.asarray(d[48:]), np.asarray(t[48:])
  k = np.log2(1 / big)
  assert np.all(k == np.round(k)) and k.min() >= 0 and k.max() <= np.log2(M) - 1
  assert np.allclose(tt / big, np.round(tt / big)) and np.all(tt + big <= 1 + 1e-6)


@pytest.mark.parametrize('k', [1, 2, 4, 8])
def test_k_step_sampling_of_a_straight_flow_is_exact_and_reports_k_evaluations(k):
  z0 = jax.random.normal(jax.random.PRNGKey(4), (16, 2))
  x, info = shortcut.sample(straight_velocity, z0, k, M)
  assert info['nfe'] == k
  np.testing.assert_allclose(x, MU + SIGMA * z0, atol=1e-4)


def test_sampling_refuses_a_step_count_the_model_never_learned():
  z0 = jnp.zeros((2, 2))
  for k in (3, 256):
    with pytest.raises(ValueError, match='power of two up to 128'):
      shortcut.sample(straight_velocity, z0, k, M)
