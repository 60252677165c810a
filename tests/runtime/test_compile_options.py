"""jaxgen.runtime.compile_options: the ODE-solve XLA options are active on this CPU and change no result."""

import re
import types

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from jaxgen.runtime import compile_options
from jaxgen.ode import likelihood


def test_the_installed_jaxlib_accepts_the_cpu_workaround(monkeypatch):
  monkeypatch.delenv('JAXGEN_XLA_DEFAULTS', raising=False)
  # If this fails after a jaxlib upgrade, the option was renamed or removed: re-measure
  # (benchmarks/likelihood_vs_scipy.py --xla_defaults 1) and update or drop ODE_SOLVE_CPU.
  assert jax.default_backend() == 'cpu'
  assert compile_options.ode_solve() == compile_options.ODE_SOLVE_CPU


@pytest.fixture
def xla_optimizations():
  """The library fusions only form with XLA's optimizations on (conftest turns most off)."""
  old = jax.config.read('jax_disable_most_optimizations')
  jax.config.update('jax_disable_most_optimizations', False)
  yield
  jax.config.update('jax_disable_most_optimizations', old)


def _ynn_fusion_ops(hlo: str) -> list[list[str]]:
  """The operations inside each YNNPACK fusion of a compiled module's text."""
  bodies = []
  for name in re.findall(r'calls=(%[\w.\-]+)[^\n]*__ynn_fusion', hlo):
    body = re.search(r'\n' + re.escape(name) + r' [^\n]*\{\n(.*?)\n\}', hlo, re.S).group(1)
    ops = [re.search(r'= \S+ ([\w-]+)\(', line).group(1) for line in body.split('\n') if ' = ' in line]
    bodies.append([o for o in ops if o not in ('parameter', 'bitcast', 'constant', 'tuple')])
  return bodies


def test_options_leave_lone_matmuls_and_the_same_likelihood(xla_optimizations, monkeypatch):
  monkeypatch.delenv('JAXGEN_XLA_DEFAULTS', raising=False)
  ks = jax.random.split(jax.random.PRNGKey(0), 4)
  w1 = jax.random.normal(ks[0], (64, 64)) / 8
  w2 = jax.random.normal(ks[1], (64, 64)) / 8
  velocity = lambda t, x: jax.nn.swish(x @ w1 + t) @ w2 - x
  prior = lambda z: jnp.sum(jax.scipy.stats.norm.logpdf(z), -1)
  x = jax.random.normal(ks[2], (64, 64))  # batch 64: where the fused kernels were slow

  def logp(x):
    return likelihood.ode_log_likelihood(velocity, x, prior, 0.0, 1.0, rng=ks[3],
                                         solver={'solver': 'dopri5', 'rtol': 1e-5,
                                                 'atol': 1e-5})[0]

  plain = jax.jit(logp).lower(x).compile()
  tuned = jax.jit(logp, compiler_options=compile_options.ode_solve()).lower(x).compile()
  fusions = _ynn_fusion_ops(tuned.as_text())
  assert fusions and all(ops == ['dot'] for ops in fusions), fusions
  np.testing.assert_allclose(tuned(x), plain(x), rtol=1e-5)


def test_env_variable_restores_xla_defaults(monkeypatch):
  monkeypatch.setenv('JAXGEN_XLA_DEFAULTS', '1')
  assert compile_options.ode_solve() == {}


def test_an_option_the_compiler_rejects_falls_back_to_defaults_with_a_warning():
  bogus = (('xla_cpu_experimental_ynn_fusion_type', 'NOT_A_FUSION_TYPE'),)
  with pytest.warns(UserWarning, match='rejects'):
    assert compile_options._accepted('cpu', bogus) == ()


def test_other_backends_get_no_cpu_options():
  assert compile_options._accepted('gpu', tuple(compile_options.ODE_SOLVE_CPU.items())) == ()


@pytest.mark.parametrize('adaptive', [True, False])
def test_sampling_jits_are_tuned_exactly_when_the_family_says_its_sampler_is_adaptive(adaptive,
                                                                                    monkeypatch):
  """The runtime reads no sampling key: the family's `adaptive_ode(settings)` decides."""
  monkeypatch.delenv('JAXGEN_XLA_DEFAULTS', raising=False)
  model = types.SimpleNamespace(adaptive_ode=lambda sampling: adaptive)
  opts = compile_options.sampling_options(model, ml_collections.ConfigDict({'solver': 'euler'}))
  assert opts == (compile_options.ODE_SOLVE_CPU if adaptive else None)


@pytest.mark.parametrize('before', [False, True])
def test_fast_compile_is_scoped(before):
  """fast_compile() turns jax_disable_most_optimizations on inside and restores it after, also
  when the body raises; fast_compile(False) leaves it alone."""
  old = jax.config.read('jax_disable_most_optimizations')
  jax.config.update('jax_disable_most_optimizations', before)
  try:
    with compile_options.fast_compile():
      assert jax.config.read('jax_disable_most_optimizations')
    assert jax.config.read('jax_disable_most_optimizations') == before
    with pytest.raises(RuntimeError):
      with compile_options.fast_compile():
        raise RuntimeError
    assert jax.config.read('jax_disable_most_optimizations') == before
    with compile_options.fast_compile(False):
      assert jax.config.read('jax_disable_most_optimizations') == before
  finally:
    jax.config.update('jax_disable_most_optimizations', old)
