"""jaxgen.compile_options: the ODE-solve XLA options are active on this CPU and change no result."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgen import compile_options, likelihood


def test_the_installed_jaxlib_accepts_the_cpu_workaround():
  # If this fails after a jaxlib upgrade, the option was renamed or removed: re-measure
  # (benchmarks/likelihood_vs_scipy.py --xla_defaults 1) and update or drop ODE_SOLVE_CPU.
  assert jax.default_backend() == 'cpu'
  assert compile_options.ode_solve() == compile_options.ODE_SOLVE_CPU


def test_likelihood_is_the_same_with_and_without_the_options():
  k1, k2, k3 = jax.random.split(jax.random.PRNGKey(0), 3)
  w1 = jax.random.normal(k1, (4, 16)) / 2
  w2 = jax.random.normal(k2, (16, 4)) / 4
  velocity = lambda t, x: jnp.tanh(x @ w1 + t) @ w2 - x
  prior = lambda z: jnp.sum(jax.scipy.stats.norm.logpdf(z), -1)
  x = jax.random.normal(k3, (64, 4))

  def logp(x):
    return likelihood.ode_log_likelihood(velocity, x, prior, 0.0, 1.0, method='exact',
                                         solver={'solver': 'dopri5', 'rtol': 1e-5,
                                                 'atol': 1e-5})[0]

  plain = jax.jit(logp)(x)
  tuned = jax.jit(logp, compiler_options=compile_options.ode_solve())(x)
  np.testing.assert_allclose(tuned, plain, rtol=1e-5, atol=1e-5)


def test_env_variable_restores_xla_defaults(monkeypatch):
  monkeypatch.setenv('JAXGEN_XLA_DEFAULTS', '1')
  assert compile_options.ode_solve() == {}


def test_an_option_the_compiler_rejects_falls_back_to_defaults_with_a_warning():
  bogus = (('xla_cpu_experimental_ynn_fusion_type', 'NOT_A_FUSION_TYPE'),)
  with pytest.warns(UserWarning, match='rejects'):
    assert compile_options._accepted('cpu', bogus) == ()


def test_other_backends_get_no_cpu_options():
  assert compile_options._accepted('gpu', tuple(compile_options.ODE_SOLVE_CPU.items())) == ()
