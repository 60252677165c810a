"""Adaptive ODE solvers: diffrax's explicit Runge-Kutta pairs in the signature of `jaxgen.ode.solvers`.

``solver(f, x0, ts, *, rtol, atol, per_example, max_steps) -> (x, stats)`` integrates
``dx/dt = f(t, x)`` from ``ts[0]`` to ``ts[-1]`` (the rest of ``ts`` is not read) with
``diffrax.diffeqsolve``, a ``PIDController(rtol, atol)`` and an automatically chosen initial step.

* ``per_example=False`` takes one step size for the whole batch (error norm over all of it);
  ``per_example=True`` vmaps the solve over the leading axis, so each example gets its own steps
  (``f`` then sees ``x`` with a leading batch axis of 1). Per-example stats add
  ``nfe_per_example: int32[b]``; ``nfe`` is then what the vmapped loop really costs, ``max_i
  nfe_i`` batched calls, since it runs until the slowest example is done. Caveat: with
  ``per_example=True``, ``f`` must not close over per-example arrays (labels, Hutchinson probes):
  they are not sliced with their example. Carry them in the state, or vmap single-example solves
  yourself (as `jaxgen.ode.likelihood` does).
* ``stats['nfe']`` derives from diffrax's count ``n`` of attempted steps and the tableau's ``s``
  stages: ``(s - 1) n + 1`` for FSAL tableaus (Dopri5 / Tsit5: ``6 n + 1``), ``s n`` otherwise
  (tests/ode/test_solvers.py checks this against the calls made); ``num_steps``,
  ``num_accepted_steps`` and ``num_rejected_steps`` come with it.
* The solve is diffrax's default adjoint: a checkpointed while loop, differentiable in reverse
  mode, jit-compatible, no host round trips.
"""

from __future__ import annotations

import diffrax
import jax
import jax.numpy as jnp

_tmap = jax.tree_util.tree_map


def _diffrax_solve(solver, stages, fsal, f, x0, t0, t1, rtol, atol, max_steps):
  term = diffrax.ODETerm(lambda t, y, args: f(jnp.asarray(t, jnp.float32), y))
  sol = diffrax.diffeqsolve(
      term, solver, t0, t1, None, x0,
      stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
      saveat=diffrax.SaveAt(t1=True), max_steps=max_steps)
  x = _tmap(lambda y: y[0], sol.ys)
  n = jnp.asarray(sol.stats['num_steps'], jnp.int32)
  nfe = (stages - 1) * n + 1 if fsal else stages * n
  stats = {'nfe': nfe, 'num_steps': n,
           'num_accepted_steps': jnp.asarray(sol.stats['num_accepted_steps'], jnp.int32),
           'num_rejected_steps': jnp.asarray(sol.stats['num_rejected_steps'], jnp.int32)}
  return x, stats


def from_diffrax(make_solver):
  """Wraps a diffrax adaptive explicit Runge-Kutta solver class (or a zero-argument factory), e.g.
  ``diffrax.Tsit5`` or ``diffrax.Bosh3``, into an adaptive ``solver(f, x0, ts, *, rtol, atol,
  per_example, max_steps)`` that reads ``ts[0]`` and ``ts[-1]`` only (module docstring). Implicit and fixed-step diffrax solvers are refused: their NFE is not a
  function of the step count."""
  solver = make_solver()  # an immutable equinox module, shared by every solve
  if not (isinstance(solver, diffrax.AbstractERK) and
          isinstance(solver, diffrax.AbstractAdaptiveSolver)):
    raise ValueError(f'from_diffrax needs an adaptive explicit Runge-Kutta diffrax solver (e.g. '
                     f'diffrax.Tsit5, Dopri5, Bosh3, Heun), got {type(solver).__name__}')
  stages, fsal = len(solver.tableau.c) + 1, bool(solver.tableau.fsal)

  def solve(f, x0, ts, *, rtol: float = 1e-5, atol: float = 1e-5, per_example: bool = False,
            max_steps: int = 4096):
    ts = jnp.asarray(ts, jnp.float32)
    t0, t1 = ts[0], ts[-1]
    run = lambda f, x0: _diffrax_solve(solver, stages, fsal, f, x0, t0, t1, rtol, atol, max_steps)
    if not per_example:
      return run(f, x0)

    def one(xi):
      return run(lambda t, y: _tmap(lambda v: v[0], f(t, _tmap(lambda v: v[None], y))), xi)

    x, st = jax.vmap(one)(x0)
    stats = {k: jnp.max(v) for k, v in st.items()}
    stats['nfe_per_example'] = st['nfe']
    return x, stats

  solve.adaptive = True
  solve.__doc__ = f'Adaptive {type(solver).__name__} (diffrax), {stages} stages' + (
      ', FSAL.' if fsal else '.')
  solve.__name__ = solve.__qualname__ = f'<from_diffrax({type(solver).__name__})>'  # 'custom'
  return solve


dopri5 = from_diffrax(diffrax.Dopri5)
dopri5.__doc__ = 'Adaptive Dormand-Prince 5(4) (diffrax.Dopri5, = scipy RK45), 6 NFE per step.'
dopri5.__name__ = 'dopri5'
tsit5 = from_diffrax(diffrax.Tsit5)
tsit5.__doc__ = 'Adaptive Tsitouras 5(4) (diffrax.Tsit5), 6 NFE per step.'
tsit5.__name__ = 'tsit5'
