"""XLA compile options for jits whose body is an adaptive ODE solve (likelihoods, dopri5 sampling).

Why: on XLA:CPU (jaxlib 0.12), the YNNPACK library fusions that absorb the elementwise and
reduction ops around a matmul run several times slower than plain code inside diffrax's while
loop once the batch reaches 64 examples (at 48 they do not). Restricting YNNPACK to individual
matmuls (``xla_cpu_experimental_ynn_fusion_type=LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT``) gave, on the
project's 2-core CPU, medians of 5 interleaved runs (`benchmarks/likelihood_vs_scipy.py` models,
VP PF-ODE, batch 64 / 256):

    PF-ODE likelihood, dopri5 rtol=atol=1e-5:  MLP width 64: 3.3x / 3.4x faster; width 256: 1.5x
    PF-ODE sampling, dopri5:                    width 64: 1.7x / 2.3x;              width 256: 1.15x
    fixed-step Euler sampling (lax.scan):       no change (0.9-1.02x, noise)
    training steps (5 experiments):             no consistent change (0.82-1.03x), so not used

and the same numbers up to float rounding. The option only exists for the CPU compiler, so
`ode_solve()` returns it only when the default backend is the CPU and the installed jaxlib
accepts it (checked once by compiling a trivial function); otherwise, or with the environment
variable ``JAXGEN_XLA_DEFAULTS=1``, it returns ``{}`` (XLA's defaults). Pass the result as
``jax.jit(fn, compiler_options=compile_options.ode_solve())``.
"""

from __future__ import annotations

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


def for_sampling(sampling) -> Optional[dict]:
  """`ode_solve()` when ``sampling.solver`` names an adaptive `jaxgen.ode.solvers` solver (aliases such
  as ``rk45``, any case), else None (XLA's defaults).

  Families whose samplers are not `jaxgen.ode.solvers` solvers (PC, DDIM, autoregressive, ...) may
  carry a ``solver`` key they do not use for sampling; such names resolve to fixed-step or unknown
  solvers and keep XLA's defaults.
  """
  from jaxgen.ode import solvers

  try:
    adaptive = solvers.get(str(sampling.get('solver', ''))).adaptive
  except ValueError:
    return None
  return ode_solve() if adaptive else None


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
