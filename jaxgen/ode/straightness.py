"""Straightness of ODE trajectories (Liu, Gong, Liu 2022, "Flow Straight and Fast").

For the ODE ``dZ_t = v(t, Z_t) dt`` on ``[0, 1]`` the paper defines

    S(Z) = E ∫_0^1 ||(Z_1 - Z_0) - v(t, Z_t)||^2 dt  =  E ∫_0^1 ||v(t, Z_t)||^2 dt - E ||Z_1 - Z_0||^2,

(the second form because ∫ v dt = Z_1 - Z_0): the kinetic energy in excess of the straight line.
S = 0 iff every trajectory is a straight line travelled at constant speed, so that one Euler step
is exact. ``||.||^2`` is the squared Euclidean norm summed over all dimensions (the reference
colab's ``torch.mean`` over elements reports S / D instead).

Estimate on a time grid (what a sampler sees): integrate the ODE over each interval of the grid
``t_0 .. t_N`` with the sampler's solver, and replace ``v(t, Z_t)`` on ``[t_i, t_{i+1}]`` by the
chord velocity ``(Z_{t_{i+1}} - Z_{t_i}) / (t_{i+1} - t_i)``, as the reference code does:

    S_N = sum_i (dt_i / T) ||Δ - T (Z_{t_{i+1}} - Z_{t_i}) / dt_i||^2,   Δ = Z_{t_N} - Z_{t_0},
    T = t_N - t_0.

For T = 1 (the rectified-flow span) this is the Riemann sum of the definition. It is exactly 0 for
straight constant-speed trajectories on any grid; with an Euler solver the chord velocity is the
velocity the sampler used, so S_N is the straightness of the sampler's own discrete path (and 0
for a one-step grid). With exact trajectory points (fine steps or an adaptive solver),
S_N <= S (Cauchy-Schwarz: ||chord||^2 / dt_i <= ∫ ||v||^2 over the interval) and S_N -> S as the
grid refines, with an O(1/N^2) gap for smooth trajectories. The affine time normalisation makes S_N invariant to
the direction and length of the span (a family whose ODE runs from T to 0 gets the same number as
its reparametrisation on [0, 1]).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxgen.ode import solvers


def path_straightness(xs: jax.Array, ts: jax.Array) -> jax.Array:
  """``S_N`` per example from a trajectory ``xs [N+1, b, ...]`` on the grid ``ts [N+1]``."""
  ts = jnp.asarray(ts, jnp.float32)
  dt = ts[1:] - ts[:-1]
  span = ts[-1] - ts[0]
  chord = (xs[1:] - xs[:-1]) * (span / dt).reshape((-1,) + (1,) * (xs.ndim - 1))  # [N, b, ...]
  sq = jnp.sum(((xs[-1] - xs[0])[None] - chord) ** 2, axis=tuple(range(2, xs.ndim)))  # [N, b]
  return jnp.sum((dt / span)[:, None] * sq, axis=0)


def trajectory(f, x0, ts, solver=None):
  """``Z`` at every time of the grid ``ts [N+1]``: ``(xs [N+1, b, ...], stats)``.

  ``solver``: a `jaxgen.ode.solvers.SolverSpec` or a section / dict of its keys (its grid is not
  used here). Each interval ``[t_i, t_{i+1}]`` is one step of a fixed-step solver (so the points
  are the sampler's own iterates on that grid) or one adaptive solve (dopri5, tsit5; its
  rtol/atol). ``stats['nfe']`` counts the calls of ``f`` over the whole grid.
  """
  one = solvers.SolverSpec.from_config(solver).replace(steps=1, grid='uniform')
  ts = jnp.asarray(ts, jnp.float32)

  def body(carry, tt):
    x, nfe = carry
    x, st = solvers.integrate(f, x, tt[0], tt[1], one)
    return (x, nfe + st['nfe']), x

  (_, nfe), xs = jax.lax.scan(body, (x0, jnp.zeros((), jnp.int32)), (ts[:-1], ts[1:]))
  return jnp.concatenate([x0[None], xs]), {'nfe': nfe}


def straightness(f, x0, t0, t1, solver=None):
  """``S_N`` per example ``[b]`` for ``dx/dt = f(t, x)`` from ``x0`` at ``t0`` to ``t1``.

  ``solver``: the sampler's `SolverSpec` (or a section / dict of its keys). The grid is the
  sampler's, ``spec.time_grid(t0, t1)``: ``steps`` intervals of a named grid (uniform, edm, shift;
  see `jaxgen.ode.grids`) or the spec's grid array, also for adaptive solvers, which then solve
  each interval. Returns ``(s [b], stats)`` with ``stats['nfe']``. Memory: the trajectory
  ``[N+1, b, ...]``.
  """
  spec = solvers.SolverSpec.from_config(solver)
  ts = spec.time_grid(t0, t1)
  xs, stats = trajectory(f, x0, ts, spec)
  return path_straightness(xs, ts), stats
