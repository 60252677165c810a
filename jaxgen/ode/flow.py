"""Rectified-flow maths (Liu, Gong and Liu 2023), with SD3's training times (Esser et al. 2024).

Time: **t = 0 is the noise end x0, t = 1 the data end x1**. A coupling (x0, x1) is interpolated
as ``x_t = t x1 + (1 - t) x0``; the velocity target is ``x1 - x0`` and the loss the per-example
``mean_dims ||(x1 - x0) - v(t, x_t)||^2`` at times drawn by a `TimeSampling`. Couplings: x0 ~
N(0, I) independent of x1 (1-RF), or a given x0 (k-RF pairs, distillation, a data-to-data flow).
SD3 runs time the other way (t_SD3 = 1 - t): `mode_time` and `shift_time` state both directions.
Sampling integrates ``dx/dt = v(t, x)`` from ``t_start`` to 1 with a
`jaxgen.ode.solvers.SolverSpec`.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from jaxgen.ode import solvers
from jaxgen.ode import straightness as straightness_lib

KINDS = ('uniform', 'logit_normal', 'mode', 'distill')
MODE_SCALE_MAX = 2.0 / (math.pi - 2.0)  # the largest s for which SD3's f(u; s) stays monotone


@dataclasses.dataclass(frozen=True)
class TimeSampling:
  """The law of the training times: ``kind`` 'uniform' U(eps, 1); 'logit_normal' ``sigmoid(u),
  u ~ N(logit_mean, logit_std^2)``; 'mode' `mode_time` with s = ``mode_scale``; 'distill' the k
  Euler times ``i / k``, k = ``distill_steps``. Except for 'distill', then `shift_time` with
  ``shift`` (1: none)."""

  kind: str = 'uniform'
  eps: float = 1e-3
  logit_mean: float = 0.0
  logit_std: float = 1.0
  mode_scale: float = 1.29
  shift: float = 1.0
  distill_steps: int = 1

  def __post_init__(self):
    if self.kind not in KINDS:
      raise ValueError(f'time sampling {self.kind!r}; choose one of: {", ".join(KINDS)}')


def mode_time(u, s):
  """SD3's mode sampling in our direction: ``t = u + s (cos^2(pi u / 2) - 1 + u)``, u ~ U(0, 1).

  SD3 draws ``t_SD3 = 1 - t``. Monotone for ``-1 <= s <= 2 / (pi - 2)`` and symmetric
  (``t(1 - u) = 1 - t(u)``), so the density ``p(t) = 1 / |1 + s (1 - (pi / 2) sin(pi u))|`` at
  ``u = t^{-1}(t)`` is the same in both directions: s > 0 favours t = 1/2, s = 0 is uniform.
  """
  return u + s * (jnp.cos(0.5 * jnp.pi * u) ** 2 - 1.0 + u)


def shift_time(t, alpha):
  """SD3's resolution shift in our direction: ``t' = t / (alpha - (alpha - 1) t)``.

  SD3 writes ``t_SD3' = alpha t_SD3 / (1 + (alpha - 1) t_SD3)`` with t_SD3 = 1 - t; alpha > 1
  moves times towards the noise, alpha = 1 is the identity. A density p(t) becomes
  ``p'(t') = p(a t' / (1 + (a - 1) t')) a / (1 + (a - 1) t')^2``. The same map as the time grid
  `jaxgen.ode.grids.shift`.
  """
  return t / (alpha - (alpha - 1.0) * t)


def sample_time(rng, b: int, ts: TimeSampling) -> jax.Array:
  """Training times ``[b]`` drawn by ``ts`` (t = 0 noise, t = 1 data)."""
  if ts.kind == 'distill':
    k = int(ts.distill_steps)
    return jax.random.randint(rng, (b,), 0, k).astype(jnp.float32) / k
  if ts.kind == 'logit_normal':
    t = jax.nn.sigmoid(ts.logit_mean + ts.logit_std * jax.random.normal(rng, (b,)))
  elif ts.kind == 'mode':
    t = mode_time(jax.random.uniform(rng, (b,)), ts.mode_scale)
  else:
    t = jax.random.uniform(rng, (b,)) * (1 - ts.eps) + ts.eps
  return t if ts.shift == 1.0 else shift_time(t, ts.shift)


def interpolate(x0, x1, t) -> jax.Array:
  """``x_t = t x1 + (1 - t) x0`` with ``t`` of shape ``[b]`` (or a scalar)."""
  t = jnp.asarray(t)
  tb = t.reshape(t.shape + (1,) * (x1.ndim - t.ndim))
  return tb * x1 + (1 - tb) * x0


def loss(v, x1, rng, ts: TimeSampling, x0=None) -> jax.Array:
  """Per-example ``mean_dims ||(x1 - x0) - v(t, x_t)||^2``, ``t ~ ts``, ``v(t[b], x) -> dx/dt``.

  ``x0``: the noise end of a given coupling, or None for x0 ~ N(0, I) independent of x1 (drawn
  from the first half of ``rng``; the times from the second). 'distill' needs a given x0.
  """
  k_noise, k_t = jax.random.split(rng)
  if x0 is None:
    if ts.kind == 'distill':
      raise ValueError("time sampling 'distill' learns a given coupling: pass x0")
    x0 = jax.random.normal(k_noise, x1.shape)
  t = sample_time(k_t, x1.shape[0], ts)
  return jnp.mean(((x1 - x0) - v(t, interpolate(x0, x1, t))) ** 2, axis=tuple(range(1, x1.ndim)))


def sample_coupling(v, rng, n: int, shape, spec: solvers.SolverSpec, t_start: float = 0.0):
  """``(z0, z1, info)``: z0 ~ N(0, I) ``[n, *shape]`` placed at ``t_start`` and z1 its solution
  at t = 1 (the flow's deterministic coupling; ``info['nfe']``)."""
  z0 = jax.random.normal(rng, (n,) + tuple(shape))
  z1, info = solvers.integrate(v, z0, t_start, 1.0, spec)
  return z0, z1, info


def transfer(v, x0, spec: solvers.SolverSpec, t_start: float = 0.0):
  """``(x1, info)``: the solution at t = 1 from GIVEN ``x0`` at ``t_start`` (a data-to-data
  flow, whose x0 come from data, not from N(0, I))."""
  return solvers.integrate(v, x0, t_start, 1.0, spec)


def straightness(v, rng, n: int, shape, spec: solvers.SolverSpec,
                 t_start: float = 0.0) -> jax.Array:
  """Per-sample straightness S_N ``[n]`` from N(0, I) on ``spec``'s grid over ``[t_start, 1]``
  (`jaxgen.ode.straightness`)."""
  z0 = jax.random.normal(rng, (n,) + tuple(shape))
  return straightness_lib.straightness(v, z0, t_start, 1.0, spec)[0]
