"""XLA compile settings the runtime applies: ODE-solve options and the scoped fast-compile flag.

`ode_solve()` is the ``compiler_options`` of a jit whose body is an adaptive ODE solve (ODE
likelihoods, adaptive-solver sampling): on the CPU backend it restricts XLA:CPU's YNNPACK fusions
to individual matmuls (``xla_cpu_experimental_ynn_fusion_type=LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT``),
which runs diffrax's while loop several times faster at batch >= 64 and gives the same numbers up
to float rounding (measurements: BENCHMARKS.md). The option exists only for the CPU compiler, so
it is returned only when the default backend is the CPU and the installed jaxlib accepts it
(checked once by compiling a trivial function); otherwise, or with the environment variable
``JAXGEN_XLA_DEFAULTS=1``, `ode_solve()` is ``{}`` (XLA's defaults).

`fast_compile()` turns ``jax_disable_most_optimizations`` on for what is compiled inside it and
restores the previous value afterwards (no global change behind the caller's back).
"""

from __future__ import annotations

import contextlib
import functools
import os
import warnings
from typing import Optional

import jax

ODE_SOLVE_CPU = {'xla_cpu_experimental_ynn_fusion_type': 'LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT'}


def ode_solve() -> dict:
  """``compiler_options`` for a jit that runs an adaptive ODE solve or an ODE likelihood."""
  if os.environ.get('JAXGEN_XLA_DEFAULTS', '') not in ('', '0'):
    return {}
  return dict(_accepted(jax.default_backend(), tuple(sorted(ODE_SOLVE_CPU.items()))))


def sampling_options(model, sampling) -> Optional[dict]:
  """`ode_solve()` when ``model.sample`` with `sampling` runs an adaptive ODE solve (the family
  says so: ``model.adaptive_ode(sampling)``), else None (XLA's defaults)."""
  return ode_solve() if model.adaptive_ode(sampling) else None


@contextlib.contextmanager
def fast_compile(enabled: bool = True):
  """Compiles what runs inside with most XLA optimizations off (a faster start, slower steps);
  the flag's previous value is restored on exit. ``enabled=False`` changes nothing."""
  if not enabled:
    yield
    return
  old = jax.config.read('jax_disable_most_optimizations')
  jax.config.update('jax_disable_most_optimizations', True)
  try:
    yield
  finally:
    jax.config.update('jax_disable_most_optimizations', old)


@functools.cache
def _accepted(backend: str, options: tuple) -> tuple:
  """``options`` if ``backend`` is the CPU and this jaxlib's compiler accepts them, else ()."""
  if backend != 'cpu':
    return ()
  try:
    jax.jit(lambda x: x + 1, compiler_options=dict(options)).lower(1.0).compile()
  except Exception as e:  # an option this jaxlib does not know: keep XLA's defaults
    warnings.warn(f'jaxgen.runtime.compile_options: this jaxlib rejects {dict(options)} ({e}); ODE '
                  'solves use XLA defaults (they may run slower on CPU).', stacklevel=3)
    return ()
  return options
