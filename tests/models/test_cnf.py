"""The cnf family: its loss gradient through the solver matches finite differences, its
likelihood is the flow's, its samples come from the ODE, and a bad config is one error line."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen.data import DataSpec
from jaxgen.models import cnf
from launch import train as launch_train
from tests import refusal

SPEC = DataSpec('toy', (2,), -4.0, 4.0, None, None, 'none', False)
SMOKE = 'experiments/cnf/toy2d.py:smoke'


def _model(**loss):
  c = cnf.defaults()
  c.model.score_mlp.update(dict(width=8, num_layers=1, embed_dim=8))
  c.loss.update(dict(solver='rk4', steps=2, **loss))
  c.likelihood.update(dict(solver='rk4', steps=2))
  return c, cnf.build(c, SPEC)


@pytest.fixture
def x64():
  before = jax.config.jax_enable_x64
  jax.config.update('jax_enable_x64', True)
  yield
  jax.config.update('jax_enable_x64', before)


def test_loss_gradient_matches_finite_differences(x64):
  """d loss / d params along a random direction, by reverse mode through the RK4 solve, equals
  the central difference (float64 solve; the score MLP computes in float32, hence the step h
  and the 2e-3 tolerance: tests/ode/test_rnode.py checks the objective at 1e-6 in float64; the Hutchinson probe fixed by the key; RNODE terms on)."""
  _, m = _model(kinetic=0.1, jacobian=0.1)
  x = jax.random.normal(jax.random.PRNGKey(0), (8, 2), jnp.float64)
  params = m.init(jax.random.PRNGKey(1), x)
  leaves, tree = jax.tree_util.tree_flatten(params)
  keys = jax.random.split(jax.random.PRNGKey(2), 2 * len(leaves))
  params = jax.tree_util.tree_unflatten(tree, [
      (v + 0.3 * jax.random.normal(k, v.shape)).astype(jnp.float64)
      for v, k in zip(leaves, keys[:len(leaves)])])
  direction = jax.tree_util.tree_unflatten(tree, [
      jax.random.normal(k, v.shape, jnp.float64) for v, k in zip(leaves, keys[len(leaves):])])
  rng = jax.random.PRNGKey(3)
  f = lambda p: m.loss(p, {'x': x}, rng)[0]
  grad = jax.grad(f)(params)
  analytic = sum(float(jnp.sum(g * d)) for g, d in zip(jax.tree_util.tree_leaves(grad),
                                                         jax.tree_util.tree_leaves(direction)))
  h = 1e-4
  shifted = lambda s: jax.tree_util.tree_map(lambda p, d: p + s * d, params, direction)
  numeric = (float(f(shifted(h))) - float(f(shifted(-h)))) / (2 * h)
  assert abs(analytic) > 1e-3
  np.testing.assert_allclose(analytic, numeric, rtol=2e-3)


def test_exact_loss_is_the_likelihood_per_dim_and_samples_come_from_the_ode():
  """With the exact divergence and no regulariser, loss = -mean log_prob / D on the same solve;
  samples have the data's shape and the solve's NFE."""
  c, m = _model(divergence='exact')
  x = jax.random.normal(jax.random.PRNGKey(0), (5, 2))
  params = m.init(jax.random.PRNGKey(1), x)
  loss, metrics = m.loss(params, {'x': x}, jax.random.PRNGKey(2))
  lp = m.log_prob(params, {'x': x}, jax.random.PRNGKey(2))
  np.testing.assert_allclose(float(loss), -float(jnp.mean(lp)) / 2, rtol=1e-5)
  assert float(metrics['nfe']) == 8 and float(metrics['kinetic']) >= 0
  s, info = m.sample(params, jax.random.PRNGKey(3), 4, m.sampling_settings(c.sampling))
  assert s.shape == (4, 2) and int(info['nfe']) == 4 * c.sampling.steps


@pytest.mark.parametrize('override, pattern', [
    ('--config.loss.divergence=trace', r"config\.loss\.divergence='trace' is not allowed"),
    ('--config.loss.adjoint=backsolve', r"config\.loss\.adjoint='backsolve'.*loss\.solver=dopri5"),
    ('--config.loss.adjoint=adjoint', r"config\.loss\.adjoint='adjoint' is not allowed"),
    ('--config.loss.per_example=true', r'config\.loss\.per_example=True.*per_example=false'),
])
def test_a_bad_config_is_one_error_line_and_nothing_written(override, pattern, capsys, tmp_path):
  work = tmp_path / 'w'
  refusal.refused(capsys, launch_train.main,
                  ['--config', SMOKE, '--workdir', str(work), override], pattern, str(tmp_path))
  assert not work.exists()
