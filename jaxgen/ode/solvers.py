"""ODE solvers as values, one signature: ``solver(f, x0, ts, **options) -> (x_final, stats)``.

Conventions
-----------
* ``f(t, x) -> dx/dt``. ``t`` is a **0-d float32 array**: one time for the whole batch (a family
  that needs per-example times broadcasts it itself, e.g. ``jnp.full((b,), t)``). ``x`` is an array
  ``[b, ...]`` or a pytree of such arrays (the likelihood integrates ``(x, logp)``) and ``f``
  returns the same structure.
* ``ts`` is a 1-D time grid, increasing or decreasing; fixed-step solvers step through every
  interval of it, adaptive solvers only read ``ts[0]`` and ``ts[-1]``.
* ``stats['nfe']`` is the exact number of calls of ``f`` made by the (batched) computation, an
  int32 array counted in-graph: fixed-step solvers add the number of calls traced in one step
  body at every step; adaptive solvers count it from their tableau (`jaxgen.ode.adaptive`).
* Adaptive solvers (`jaxgen.ode.adaptive`, diffrax with a PID step-size controller) take
  ``rtol, atol, per_example, max_steps``; see that module for their NFE and per-example solves.

All solvers are jit-compatible (``lax.scan`` / diffrax ``while_loop``), do no host round trips and
work on batches sharded along their leading axis.

Solvers are values. A solver is any function ``solver(f, x0, ts) -> (x, stats)`` with
``stats['nfe']``; an adaptive one carries the attribute ``solver.adaptive = True`` and also takes
the keywords ``rtol, atol, per_example, max_steps``. `explicit_rk(a, b, c)` makes a fixed-step
solver from a Butcher tableau and `adaptive.from_diffrax(diffrax.Bosh3)` wraps a diffrax solver
into an adaptive one; pass either where a config would name a solver. The named solvers (`SOLVERS`,
`names()`, alias ``'rk45'``) are built the same way. The settings of one solve are a frozen,
hashable `SolverSpec` (solver name or function, steps, grid name or array, tolerances), built
once from a config section with ``SolverSpec.from_config(section)``:

    integrate(f, x0, t0, t1, spec, *, schedule=None) -> (x1, stats)   # stats['nfe']
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import ml_collections

from jaxgen.ode import adaptive, grids

Fn = Callable[[jax.Array, Any], Any]

_tmap = jax.tree_util.tree_map


def _axpy(x, dt, coeffs, ks):
  """``x + dt sum_i coeffs_i ks_i`` over pytrees; zero coefficients (python floats) are skipped."""
  out = x
  for c, k in zip(coeffs, ks):
    if c != 0.0:
      out = _tmap(lambda o, kk, c=c: o + (dt * c) * kk, out, k)
  return out


def explicit_rk(a, b, c) -> 'Solver':
  """A fixed-step explicit Runge-Kutta solver ``solver(f, x0, ts) -> (x, {'nfe'})`` from its Butcher
  tableau: ``a`` the strictly lower-triangular stage matrix as ragged rows (``a[0] = []``), ``b``
  the weights, ``c`` the nodes (numbers). The tableau must be consistent: ``sum(b) = 1`` and
  ``c_i = sum_j a_ij`` (stage i is evaluated at the time its state approximates). One step per
  interval of ``ts``; ``nfe`` counts the stages actually traced (``len(b)`` per step)."""
  try:
    a = [[float(v) for v in row] for row in a]
    b, c = [float(v) for v in b], [float(v) for v in c]
  except (TypeError, ValueError):
    raise ValueError('explicit_rk: a must be ragged rows of numbers and b, c lists of numbers') \
        from None
  if not b or not (len(a) == len(b) == len(c)) or any(len(row) != i for i, row in enumerate(a)):
    raise ValueError(f'explicit_rk: a must have rows of lengths 0..s-1 and b, c length s; got '
                     f'row lengths {[len(r) for r in a]}, len(b)={len(b)}, len(c)={len(c)}')
  if abs(sum(b) - 1.0) > 1e-6:
    raise ValueError(f'explicit_rk: the weights b must sum to 1 (consistency), got {sum(b)!r}')
  bad = [i for i, row in enumerate(a) if abs(sum(row) - c[i]) > 1e-6]
  if bad:
    raise ValueError(f'explicit_rk: c_i must equal sum_j a_ij; rows {bad} do not (c = {c}, row '
                     f'sums = {[sum(r) for r in a]})')

  def step(f, t, dt, x):
    ks = []
    for i in range(len(b)):
      ks.append(f(t + c[i] * dt, _axpy(x, dt, a[i], ks)))
    return _axpy(x, dt, b, ks)

  def solve(f, x0, ts):
    ts = jnp.asarray(ts, jnp.float32)
    calls = [0]

    def counted(t, x):
      calls[0] += 1  # runs at trace time: counts the calls in one step body
      return f(t, x)

    def body(carry, tt):
      x, nfe = carry
      t, tn = tt
      calls[0] = 0
      x = step(counted, t, tn - t, x)
      return (x, nfe + calls[0]), None

    (x, nfe), _ = jax.lax.scan(body, (x0, jnp.zeros((), jnp.int32)), (ts[:-1], ts[1:]))
    return x, {'nfe': nfe}

  solve.__name__ = solve.__qualname__ = '<explicit_rk>'  # unnamed: labelled 'custom'
  return solve


euler = explicit_rk(a=[[]], b=[1.0], c=[0.0])
euler.__doc__ = 'Explicit Euler: 1 NFE per step, order 1.'
euler.__name__ = 'euler'
heun = explicit_rk(a=[[], [1.0]], b=[0.5, 0.5], c=[0.0, 1.0])
heun.__doc__ = "Heun's method (explicit trapezoid): 2 NFE per step, order 2."
heun.__name__ = 'heun'
midpoint = explicit_rk(a=[[], [0.5]], b=[0.0, 1.0], c=[0.0, 0.5])
midpoint.__doc__ = 'Explicit midpoint: 2 NFE per step, order 2.'
midpoint.__name__ = 'midpoint'
rk4 = explicit_rk(a=[[], [0.5], [0.0, 0.5], [0.0, 0.0, 1.0]],
                   b=[1 / 6, 1 / 3, 1 / 3, 1 / 6], c=[0.0, 0.5, 0.5, 1.0])
rk4.__doc__ = 'Classical Runge-Kutta: 4 NFE per step, order 4.'
rk4.__name__ = 'rk4'


@dataclasses.dataclass(frozen=True)
class SolverInfo:
  """A named solver: its function, order and one-line description (``launch.solvers`` lists
  them); ``adaptive`` is the function's own attribute."""
  fn: Callable
  order: int
  description: str

  @property
  def adaptive(self) -> bool:
    return bool(getattr(self.fn, 'adaptive', False))


SOLVERS = {
    'euler': SolverInfo(euler, 1, 'explicit Euler, 1 NFE/step, order 1 (fixed grid)'),
    'heun': SolverInfo(heun, 2, "Heun's 2nd-order RK (trapezoid), 2 NFE/step (fixed grid)"),
    'midpoint': SolverInfo(midpoint, 2,
                           'explicit midpoint, 2 NFE/step, order 2 (fixed grid)'),
    'rk4': SolverInfo(rk4, 4, 'classical Runge-Kutta, 4 NFE/step, order 4 (fixed grid)'),
    'dopri5': SolverInfo(adaptive.dopri5, 5, 'adaptive Dormand-Prince 5(4) via diffrax (scipy '
                         'RK45), rtol/atol, shared or per-example steps'),
    'tsit5': SolverInfo(adaptive.tsit5, 5, 'adaptive Tsitouras 5(4) via diffrax, rtol/atol, '
                        'shared or per-example steps'),
}
ALIASES = {'rk45': 'dopri5'}


Solver = Callable[..., tuple[Any, dict]]


def names() -> list[str]:
  """The solver names a `SolverSpec` accepts (``'rk45'`` is an alias of dopri5)."""
  return list(SOLVERS)


def get(name: str) -> SolverInfo:
  """The `SolverInfo` of a solver name or alias (case-insensitive); ValueError lists the names."""
  key = ALIASES.get(name.lower(), name.lower())
  if key not in SOLVERS:
    raise ValueError(f'unknown solver {name!r}; available: {", ".join(names() + list(ALIASES))}, '
                     'or pass a solver function (explicit_rk(a, b, c), adaptive.from_diffrax(...))')
  return SOLVERS[key]


def _concrete(v) -> Optional[float]:
  """``float(v)``, or None for a traced value."""
  try:
    return float(v)
  except (TypeError, jax.errors.ConcretizationTypeError):
    return None


def merged_fields(cls, section=None, base=None, **defaults) -> dict:
  """The field values of the dataclass ``cls`` read from a config section (ConfigDict or dict):
  the section's value where it has the key, else ``base``'s (an instance of ``cls``) when given,
  else ``defaults``' (other fields keep the class defaults); other keys of the section are
  ignored. The one loop that merges a section over settings (`SolverSpec.from_config`,
  `jaxgen.diffusion.sampler.DiffusionSampling.from_config`)."""
  section = {} if section is None else section
  values = {}
  for f in dataclasses.fields(cls):
    if f.name in section:
      values[f.name] = section[f.name]
    elif base is not None:
      values[f.name] = getattr(base, f.name)
    elif f.name in defaults:
      values[f.name] = defaults[f.name]
  return values


@dataclasses.dataclass(frozen=True)
class SolverSpec:
  """The settings of one ODE solve, built once (from a config section or by hand); hashable, so
  it can be a static jit argument or a cache key.

  Attributes:
    solver: a name of ``names()`` (or an alias) or a solver function ``solver(f, x0, ts)``
      (e.g. ``explicit_rk(...)``, ``adaptive.from_diffrax(...)``); a function is adaptive iff it
      has the attribute ``adaptive = True`` (it then receives rtol/atol/per_example/max_steps).
    steps: intervals of the fixed-step grid when ``grid`` is a name.
    grid: a grid name of `jaxgen.ode.grids` (``grids.NAMES``) or a 1-D monotone array of times
      from the start to the end of the integration (then ``steps`` is ignored; a concrete
      array is stored as a tuple of floats). Fixed-step solvers only.
    rtol, atol, per_example, max_steps: adaptive solvers only.
    rho: EDM grid exponent; shift: SD3 shift a (grid='shift').
  """

  solver: Any = 'euler'
  steps: int = 100
  grid: Any = 'uniform'
  rtol: float = 1e-5
  atol: float = 1e-5
  per_example: bool = False
  max_steps: int = 4096
  rho: float = 7.0
  shift: float = 1.0

  def __post_init__(self):
    if isinstance(self.solver, str):
      get(self.solver)  # raises on an unknown name
    elif not callable(self.solver):
      raise ValueError(f'solver must be a name ({", ".join(names() + list(ALIASES))}) or a '
                       f'function solver(f, x0, ts), got {type(self.solver).__name__}')
    if isinstance(self.grid, str):
      if self.grid not in grids.NAMES:
        raise ValueError(f'unknown grid {self.grid!r}; use one of {", ".join(grids.NAMES)} or '
                         'pass a 1-D array of times')
    else:
      if jnp.ndim(self.grid) != 1 or jnp.shape(self.grid)[0] < 2:
        raise ValueError(f'a grid array must be 1-D with at least 2 times, got shape '
                         f'{jnp.shape(self.grid)}; or name a grid: {", ".join(grids.NAMES)}')
      if not isinstance(self.grid, jax.core.Tracer):
        g = tuple(float(t) for t in jax.device_get(self.grid))
        d = [b - a for a, b in zip(g[:-1], g[1:])]
        if g[0] == g[-1] or not (all(x >= 0 for x in d) or all(x <= 0 for x in d)):
          raise ValueError(f'a grid array must be monotone from its start to a different end '
                           f'time, got {g}')
        object.__setattr__(self, 'grid', g)
    if not isinstance(self.grid, str) and self.adaptive:
      raise ValueError(f'grid: an adaptive solver ({self.label}) picks its own steps and would '
                       'drop the grid array; pass a fixed-step solver (euler, heun, midpoint, rk4, '
                       'explicit_rk(...)) with the array, or a grid name')
    if isinstance(self.steps, bool) or not isinstance(self.steps, numbers.Integral) or \
        self.steps < 1:
      raise ValueError(f'steps must be an int >= 1 (intervals of the grid), got {self.steps!r}')
    object.__setattr__(self, 'steps', int(self.steps))

  @classmethod
  def from_config(cls, section=None, base: 'SolverSpec | None' = None, **defaults) -> 'SolverSpec':
    """The spec of a config section (ConfigDict or dict) holding some of this class's fields;
    keys it lacks come from ``base`` (a `SolverSpec`, e.g. the run's) when given, else from
    ``defaults`` then the class defaults; other keys are ignored. A `SolverSpec` is returned as
    is."""
    if isinstance(section, SolverSpec):
      return section
    return cls(**merged_fields(cls, section, base, **defaults))

  @property
  def adaptive(self) -> bool:
    return bool(getattr(self.fn, 'adaptive', False))

  @property
  def fn(self) -> Solver:
    return get(self.solver).fn if isinstance(self.solver, str) else self.solver

  @property
  def label(self) -> str:
    """The solver's name: a name's canonical name (``'rk45'`` -> ``'dopri5'``); a function's
    ``__name__`` if it is a Python identifier (set it to name a user-written solver), else
    ``'custom'`` (lambdas and the unnamed results of `explicit_rk` and
    `jaxgen.ode.adaptive.from_diffrax`)."""
    if isinstance(self.solver, str):
      return ALIASES.get(self.solver.lower(), self.solver.lower())
    name = getattr(self.solver, '__name__', '')
    return name if isinstance(name, str) and name.isidentifier() else 'custom'

  def time_grid(self, t0, t1, schedule=None) -> jax.Array:
    """The fixed-step grid from ``t0`` to ``t1``: ``grid`` by name, or the given array, whose end
    points must be ``t0`` and ``t1`` (checked where both are concrete)."""
    if isinstance(self.grid, str):
      return grids.make(self.grid, t0, t1, self.steps, rho=self.rho, shift_a=self.shift,
                        schedule=schedule)
    ts = jnp.asarray(self.grid, jnp.float32)
    if isinstance(self.grid, tuple):
      ends = (_concrete(t0), _concrete(t1))
      if None not in ends and max(abs(self.grid[0] - ends[0]), abs(self.grid[-1] - ends[1])) > 1e-6:
        raise ValueError(f'the grid array runs from {self.grid[0]} to {self.grid[-1]} but this '
                         f'integration goes from {ends[0]} to {ends[1]}: make the grid start and '
                         'end there (or name a grid)')
    return ts

  def replace(self, **changes) -> 'SolverSpec':
    return dataclasses.replace(self, **changes)


def defaults() -> ml_collections.ConfigDict:
  """The `SolverSpec` fields and their defaults as a config section (families embed them in
  ``sampling`` and ``likelihood``): solver, steps, grid, rtol, atol, per_example, max_steps, rho,
  shift."""
  return ml_collections.ConfigDict({f.name: f.default for f in dataclasses.fields(SolverSpec)})


def choices(section: str) -> dict:
  """The config checks of a section holding `defaults()`: ``{'<section>.solver': the names and
  aliases, '<section>.grid': the grid names}`` (a family's ``choices()`` merges them in)."""
  return {f'{section}.solver': tuple(names()) + tuple(ALIASES), f'{section}.grid': grids.NAMES}


def integrate(f: Fn, x0, t0, t1, spec=None, *, schedule=None):
  """Integrates ``dx/dt = f(t, x)`` from ``t0`` to ``t1`` with the solve ``spec``.

  Args:
    f: ``f(t, x)`` with ``t`` a 0-d float32 array (see module docstring).
    x0: the state at ``t0``, ``[b, ...]`` or a pytree of such arrays.
    t0, t1: start and end times (python floats or traced scalars; either direction). A grid
      array (fixed-step solvers) must start at ``t0`` and end at ``t1``.
    spec: a `SolverSpec`, or a section/dict of its keys (`SolverSpec.from_config`).
    schedule: optional object with ``log_snr(t)`` / ``t_from_log_snr(lam)`` (a
      `jaxgen.diffusion.sde` SDE) used by ``grid='log_snr'`` (required) and ``grid='edm'``
      (optional, see `jaxgen.ode.grids`).

  Returns:
    ``(x1, stats)`` with ``stats['nfe']`` an int32 array: the exact number of calls of ``f``.
  """
  spec = SolverSpec.from_config(spec)
  if spec.adaptive:
    ts = jnp.stack([jnp.asarray(t0, jnp.float32), jnp.asarray(t1, jnp.float32)])
    return spec.fn(f, x0, ts, rtol=spec.rtol, atol=spec.atol, per_example=spec.per_example,
                   max_steps=spec.max_steps)
  return spec.fn(f, x0, spec.time_grid(t0, t1, schedule))
