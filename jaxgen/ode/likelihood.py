"""Log-likelihood of ODE models (probability-flow ODE, rectified flow, CNFs), in nats, in-graph.

Instantaneous change of variables: along a trajectory of ``dx/dt = v(t, x)``,
``d/dt log p_t(x_t) = -div v(t, x_t)``. Integrating the augmented state ``(x, delta)`` with
``d delta/dt = div v`` from the data time ``t_data`` to the noise time ``t_noise`` gives

    log p_{t_data}(x) = prior_logp(x_{t_noise}) + delta(t_noise),   delta(t_data) = 0,

valid in either time direction (score SDE: t_data = eps, t_noise = T; rectified flow: t_data = 1,
t_noise = 0). The whole integration is one jitted graph (a `jaxgen.ode.solvers` solver: diffrax
Dopri5 / Tsit5 with rtol/atol, or any fixed-step solver), no host round trips (the reference
score_sde code runs scipy RK45 on the host).

Divergence estimators (``v`` must act independently per example, e.g. no batch norm):

* ``'exact'``: ``sum_i (J e_i)_i`` with one ``jax.jvp`` per input dimension, vmapped over the D
  basis vectors applied to all examples at once; the drift is the (unbatched) primal output of the
  same jvps. Cost ~ D forward passes; for small D (toy data, 8x8 digits).
* ``'hutchinson'``: Hutchinson-Skilling ``E_e[e^T J e]`` with ``num_probes`` probes per example,
  Rademacher (default) or Gaussian, drawn once from ``rng`` and held fixed along the trajectory
  (as FFJORD / score_sde do, so the ODE stays deterministic). Each probe costs ONE ``jax.jvp``
  that returns both ``v`` (primal) and ``J e`` (tangent); probes are vmapped, the primal is shared.
  Unbiased: ``E[e^T J e] = tr J`` since ``E[e e^T] = I``.

Public functions:

    divergence(v, t, x, *, method='exact', probes=None) -> (v(t, x), div[b])
    make_probes(rng, x, num_probes=1, kind='rademacher') -> [num_probes, *x.shape]
    ode_log_likelihood(velocity, x, prior_logp, t_data, t_noise, *, rng=None, method='hutchinson',
                       num_probes=1, probe='rademacher', solver=None)
        -> (logp[b] nats, {'nfe', 'prior_logp', 'delta_logp', 'z', ...solver stats})
    per_example_stats(stats, b) -> {'nfe': [b]}   (what a family's extras['log_prob_stats'] returns)

``solver`` is a `jaxgen.ode.solvers.SolverSpec` (or a config section / dict of its keys, read by
``SolverSpec.from_config(solver, solver='dopri5')``): by default dopri5 at rtol = atol = 1e-5 (the
reference's RK45 tolerances); a solver function or a grid array works as well. ``stats['nfe']``
is the number of augmented evaluations (each = one forward pass of ``v`` carrying D or num_probes
tangents).
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import jax
import jax.numpy as jnp

from jaxgen.ode import solvers

Velocity = Callable[[jax.Array, jax.Array], jax.Array]


def per_example_stats(stats: dict, batch: int) -> dict:
  """``{'nfe': [b] float32}`` from `ode_log_likelihood`'s stats: each example's augmented
  evaluations (``nfe_per_example`` with per-example steps, else the batch's shared count), shaped
  like the batch so that a batch-sharded evaluation carries it (a family's ``log_prob_stats``)."""
  nfe = stats.get('nfe_per_example', stats['nfe'])
  return {'nfe': jnp.broadcast_to(jnp.asarray(nfe, jnp.float32), (batch,))}


def estimator(probes: int) -> dict:
  """The divergence keywords of `ode_log_likelihood` for a config's ``likelihood.probes``: 0 is the
  exact trace, k > 0 Hutchinson with k Rademacher probes."""
  return dict(method='hutchinson' if probes else 'exact', num_probes=max(int(probes), 1))


def make_probes(rng: jax.Array, x: jax.Array, num_probes: int = 1,
                kind: str = 'rademacher') -> jax.Array:
  """``[num_probes, *x.shape]`` Rademacher (+-1) or standard Gaussian probes."""
  shape = (num_probes,) + x.shape
  if kind == 'rademacher':
    return jax.random.rademacher(rng, shape, dtype=x.dtype)
  if kind == 'gaussian':
    return jax.random.normal(rng, shape, dtype=x.dtype)
  raise ValueError(f"probe kind must be 'rademacher' or 'gaussian', got {kind!r}")


def divergence(v: Velocity, t, x: jax.Array, *, method: str = 'exact',
               probes: Optional[jax.Array] = None) -> tuple[jax.Array, jax.Array]:
  """``(v(t, x), div_x v(t, x))`` per example, from one jvp per basis vector / probe.

  Args:
    v: ``v(t, x) -> dx/dt`` with ``x: [b, ...]``.
    t: whatever ``v`` takes as time.
    x: ``[b, ...]``.
    method: ``'exact'`` or ``'hutchinson'`` (then ``probes: [k, *x.shape]`` is required; the
      estimate is the mean over the k probes).
  Returns:
    ``(v, div)`` with ``div: [b]``.
  """
  fn = lambda y: v(t, y)
  b = x.shape[0]
  if method == 'exact':
    d = math.prod(x.shape[1:])
    basis = jnp.eye(d, dtype=x.dtype).reshape((d, 1) + x.shape[1:])
    basis = jnp.broadcast_to(basis, (d,) + x.shape)
    out, jv = jax.vmap(lambda e: jax.jvp(fn, (x,), (e,)), out_axes=(None, 0))(basis)
    # jv[i] = J e_i for every example; take the i-th coordinate of the i-th column.
    jv = jv.reshape(d, b, d)
    div = jnp.einsum('ibi->b', jv)
    return out, div
  if method == 'hutchinson':
    if probes is None:
      raise ValueError('hutchinson divergence needs probes')
    out, jv = jax.vmap(lambda e: jax.jvp(fn, (x,), (e,)), out_axes=(None, 0))(probes)
    est = jnp.sum((probes * jv).reshape(probes.shape[0], b, -1), axis=-1)  # [k, b]
    return out, jnp.mean(est, axis=0)
  raise ValueError(f"divergence method must be 'exact' or 'hutchinson', got {method!r}")


def ode_log_likelihood(velocity: Velocity, x: jax.Array,
                       prior_logp: Callable[[jax.Array], jax.Array],
                       t_data, t_noise, *, rng: Optional[jax.Array] = None,
                       method: str = 'hutchinson', num_probes: int = 1,
                       probe: str = 'rademacher', solver=None):
  """Per-example ``log p_{t_data}(x)`` in nats of the ODE ``dx/dt = velocity(t, x)``.

  Args:
    velocity: ``velocity(t, x)`` with ``t`` a 0-d array (the `jaxgen.ode.solvers` convention; e.g.
      ``sde.pf_ode(score_fn)`` or a rectified-flow velocity).
    x: ``[b, ...]`` data at ``t_data``.
    prior_logp: ``z -> [b]`` log-density of the law at ``t_noise`` (e.g. ``sde.prior_logp``).
    t_data, t_noise: integration from ``t_data`` to ``t_noise`` (either direction).
    rng: draws the probes (``method='hutchinson'``); unused for ``'exact'``.
    method: ``'exact'`` | ``'hutchinson'`` (see module docstring).
    num_probes, probe: Hutchinson probes per example and their law.
    solver: a `SolverSpec` or a section / dict of its keys; default adaptive dopri5 at
      rtol = atol = 1e-5. A grid array must run from ``t_data`` to ``t_noise``. With
      ``per_example=True`` (adaptive solvers) every example gets its own steps; ``nfe`` is
      then the batched cost ``max_i nfe_i`` and ``nfe_per_example`` is added.
  Returns:
    ``(logp [b], stats)``; stats: ``nfe``, ``prior_logp [b]``, ``delta_logp [b]``, ``z`` (the
    state at ``t_noise``) and the solver's other stats.
  """
  probes = None
  if method == 'hutchinson':
    if rng is None:
      raise ValueError("method='hutchinson' needs rng")
    probes = make_probes(rng, x, num_probes, probe)

  spec = solvers.SolverSpec.from_config(solver, solver='dopri5')

  def solve(x, probes, spec):
    def aug(t, state):
      y, _ = state
      return divergence(velocity, t, y, method=method, probes=probes)

    state0 = (x, jnp.zeros((x.shape[0],), x.dtype))
    return solvers.integrate(aug, state0, t_data, t_noise, spec)

  if spec.per_example and spec.adaptive:
    # Per-example steps: vmap whole single-example solves so that the probes (closed over by the
    # field) are sliced with their example.
    shared = spec.replace(per_example=False)
    pr = probes if probes is not None else jnp.zeros((1,) + x.shape, x.dtype)
    (z, delta), st = jax.vmap(
        lambda xi, pi: solve(xi[None], None if probes is None else pi[:, None], shared),
        in_axes=(0, 1))(x, pr)
    z, delta = z[:, 0], delta[:, 0]
    stats = {k: jnp.max(v) for k, v in st.items()}
    stats['nfe_per_example'] = st['nfe']
  else:
    (z, delta), stats = solve(x, probes, spec)
  plp = prior_logp(z)
  stats = dict(stats)
  stats.update(prior_logp=plp, delta_logp=delta, z=z)
  return plp + delta, stats
