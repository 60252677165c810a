"""The CNF training objective (FFJORD, Grathwohl et al. 2019) with the RNODE regularisers (Finlay
et al. 2020), in one augmented ODE solve, differentiable through the solver.

Along ``dx/dt = v(t, x)`` from the data time ``t_data`` to the noise time ``t_noise`` (either
direction; rectified-flow convention t = 1 data, t = 0 noise) the state ``(x, delta, kinetic,
jacobian)`` integrates

    d delta / dt    = div v(t, x)                       (log p(x) = log N(x_{t_noise}) + delta)
    d kinetic / dt  = s ||v(t, x)||^2 / D
    d jacobian / dt = s ||grad_x v(t, x)||_F^2 / D       s = sign(t_noise - t_data)

so ``kinetic`` and ``jacobian`` are the per-dimension integrals over the time interval, >= 0,
per example. The divergence and the Frobenius norm come from the same tangents ``J e`` (one
``jax.jvp`` each, the primal ``v`` shared): with Hutchinson probes e_1..e_k (Rademacher or
Gaussian, ``E[e e^T] = I``) ``div ~ mean_k e_k^T J e_k`` and ``||J||_F^2 ~ mean_k ||J e_k||^2``
(both unbiased); ``probes=None`` uses the D basis vectors, for which the sums are exact.

Gradients (``adjoint``): ``'recursive_checkpoint'`` differentiates the solver's own computation
(discretise-then-optimise: the exact gradient of the computed log-likelihood; a fixed-step
solver's ``lax.scan`` or diffrax's ``RecursiveCheckpointAdjoint`` with checkpointed steps);
``'backsolve'`` is FFJORD's continuous adjoint (diffrax ``BacksolveAdjoint``: memory O(1) in the
steps, but its gradient solves the adjoint ODE backwards, so it only approximates the gradient of
the forward solve, to the solver's tolerance); adaptive solvers only.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import diffrax
import jax
import jax.numpy as jnp

from jaxgen.ode import solvers

ADJOINTS = ('recursive_checkpoint', 'backsolve')


def tangents(v: Callable, t, x: jax.Array, probes: Optional[jax.Array]):
  """``(v(t, x), div [b], ||J||_F^2 [b])`` from one jvp per probe ``[k, *x.shape]`` (module
  doc); ``probes=None``: the D basis vectors, exact."""
  b = x.shape[0]
  if probes is None:
    d = math.prod(x.shape[1:])
    basis = jnp.eye(d, dtype=x.dtype).reshape((d, 1) + x.shape[1:])
    vecs, scale = jnp.broadcast_to(basis, (d,) + x.shape), 1.0
  else:
    vecs, scale = probes, 1.0 / probes.shape[0]
  out, jv = jax.vmap(lambda e: jax.jvp(lambda y: v(t, y), (x,), (e,)), out_axes=(None, 0))(vecs)
  flat = lambda a: a.reshape(a.shape[0], b, -1)
  div = scale * jnp.sum(flat(vecs) * flat(jv), axis=(0, 2))
  frob = scale * jnp.sum(jnp.square(flat(jv)), axis=(0, 2))
  return out, div, frob


def _backsolve(f, state0, t0, t1, spec: solvers.SolverSpec):
  """The adaptive solve of ``spec`` with diffrax's BacksolveAdjoint; ``(state, {'nfe'})``. The
  adjoint differentiates only the solve's ``args``: the values ``f`` closes over (the net's
  parameters, the probes) are hoisted into them by `jax.closure_convert`."""
  solver = {'dopri5': diffrax.Dopri5, 'tsit5': diffrax.Tsit5}[spec.label]()
  converted, consts = jax.closure_convert(f, jnp.zeros((), jnp.float32), state0)
  term = diffrax.ODETerm(lambda t, y, args: converted(jnp.asarray(t, jnp.float32), y, *args))
  sol = diffrax.diffeqsolve(
      term, solver, t0, t1, None, state0, args=tuple(consts),
      stepsize_controller=diffrax.PIDController(rtol=spec.rtol, atol=spec.atol),
      saveat=diffrax.SaveAt(t1=True), max_steps=spec.max_steps,
      adjoint=diffrax.BacksolveAdjoint(
          stepsize_controller=diffrax.PIDController(rtol=spec.rtol, atol=spec.atol)))
  n = jnp.asarray(sol.stats['num_steps'], jnp.int32)
  return jax.tree_util.tree_map(lambda y: y[0], sol.ys), {'nfe': 6 * n + 1}


def log_likelihood(velocity: Callable, x: jax.Array, prior_logp: Callable, t_data: float,
                   t_noise: float, *, probes: Optional[jax.Array], solver,
                   adjoint: str = 'recursive_checkpoint'):
  """``(log p(x) [b] nats, {'kinetic' [b], 'jacobian' [b], 'nfe'})`` of the ODE ``velocity(t,
  x)`` (module doc); ``solver`` a `SolverSpec` or a section of its keys."""
  spec = solvers.SolverSpec.from_config(solver)
  if adjoint not in ADJOINTS:
    raise ValueError(f'adjoint must be one of {ADJOINTS}, got {adjoint!r}')
  if adjoint == 'backsolve' and spec.label not in ('dopri5', 'tsit5'):
    raise ValueError(f"adjoint='backsolve' solves the adjoint ODE with an adaptive diffrax "
                     f'solver, not {spec.label}: use solver dopri5 or tsit5')
  sign = 1.0 if t_noise > t_data else -1.0
  dim = math.prod(x.shape[1:])

  def aug(t, state):
    out, div, frob = tangents(velocity, t, state[0], probes)
    kin = jnp.sum(jnp.square(out.reshape(out.shape[0], -1)), axis=-1)
    return out, div, sign * kin / dim, sign * frob / dim

  zeros = jnp.zeros((x.shape[0],), x.dtype)
  state0 = (x, zeros, zeros, zeros)
  if adjoint == 'backsolve':
    (z, delta, kin, jac), stats = _backsolve(aug, state0, t_data, t_noise, spec)
  else:
    (z, delta, kin, jac), stats = solvers.integrate(aug, state0, t_data, t_noise, spec)
  return prior_logp(z) + delta, {'kinetic': kin, 'jacobian': jac, 'nfe': stats['nfe'], 'z': z}
