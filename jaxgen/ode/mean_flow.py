"""MeanFlow (Geng, Deng, Bai, Kolter, He 2025): the average velocity, its target and sampler.

Time as in `jaxgen.ode.flow`: **t = 0 noise x0, t = 1 data x1**, ``z_t = t x1 + (1 - t) x0``,
``v = dz/dt = x1 - x0``. The average velocity of the flow's ODE between the time t of ``z`` and
a later time r (t <= r <= 1 here) is

    u(z_t, r, t) = 1 / (r - t) * integral_t^r v(z_s, s) ds,  so  z_r = z_t - (t - r) u(z_t, r, t)

and ``u(z, t, t) = v(z, t)``. Differentiating ``(r - t) u(z_t, r, t) = integral_t^r v`` in t gives
the MeanFlow identity ``u = v - (t - r) du/dt`` with the total derivative along the path
``du/dt = v . d_z u + d_t u``: `jax.jvp` of ``(z, r, t) -> u`` with tangents ``(v, 0, 1)``.

The paper runs time the other way: its ``t_p = 1 - t``, ``r_p = 1 - r`` (data at 0, r_p <= t_p),
its velocity and average velocity ``v_p = -v``, ``u_p = -u``. The identity and the step read the
same in both directions; the interval the network sees, ``r - t = t_p - r_p >= 0``, is the same
number; its logit-normal times with mean -0.4 are ``logit_mean = +0.4`` here.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from jaxgen.ode import flow

KINDS = ('logit_normal', 'uniform')


@dataclasses.dataclass(frozen=True)
class TimePairs:
  """The law of the training pairs (t, r), t <= r: two times drawn from ``kind`` ('logit_normal':
  ``sigmoid(u)``, ``u ~ N(logit_mean, logit_std^2)``; 'uniform': U(0, 1)), sorted; then the first
  ``b - round(ratio * b)`` examples of a batch of b get ``r = t`` (plain flow matching), so a
  fraction ``ratio`` keeps ``r != t`` (the paper's best: 0.25)."""

  kind: str = 'logit_normal'
  logit_mean: float = 0.4
  logit_std: float = 1.0
  ratio: float = 0.25

  def __post_init__(self):
    if self.kind not in KINDS:
      raise ValueError(f'time sampling {self.kind!r}; choose one of: {", ".join(KINDS)}')


def sample_times(rng, b: int, tp: TimePairs) -> tuple[jax.Array, jax.Array]:
  """``(t, r)``, each ``[b]``, with ``t <= r`` (t = 0 noise, t = 1 data)."""
  if tp.kind == 'logit_normal':
    s = jax.nn.sigmoid(tp.logit_mean + tp.logit_std * jax.random.normal(rng, (2, b)))
  else:
    s = jax.random.uniform(rng, (2, b))
  t, r = jnp.minimum(s[0], s[1]), jnp.maximum(s[0], s[1])
  equal = jnp.arange(b) < b - round(tp.ratio * b)
  return t, jnp.where(equal, t, r)


def guided_velocity(v, u_cond, u_uncond, omega: float, kappa: float = 0.0):
  """The paper's guided field folded into training: ``omega v + kappa u_cond + (1 - omega -
  kappa) u_uncond``, with ``u_*`` the network's instantaneous velocities ``u(z_t, t, t)`` with and
  without the label (omega = 1, kappa = 0: ``v``, no guidance)."""
  return omega * v + kappa * u_cond + (1.0 - omega - kappa) * u_uncond


def target(u, z, t, r, v):
  """``(u(z, r, t), u_tgt)`` with ``u_tgt = sg(v - (t - r) du/dt)``, ``du/dt`` the jvp of
  ``u: (z, r[b], t[b]) -> [b, ...]`` along ``(v, 0, 1)``; the first output carries gradients."""
  out, dudt = jax.jvp(u, (z, r, t), (v, jnp.zeros_like(r), jnp.ones_like(t)))
  return out, jax.lax.stop_gradient(v - _bcast(t - r, v) * dudt)


def adaptive_weight(sq, power: float, eps: float):
  """The paper's adaptive loss weight ``sg(1 / (sq + eps)^power)`` of a squared error ``sq``
  (power = 0: plain squared error; power = 1 with the loss sq / (sq + eps) ~ a robust norm)."""
  return jax.lax.stop_gradient(1.0 / (sq + eps) ** power)


def loss(u, x1, rng, tp: TimePairs, power: float = 1.0, eps: float = 1e-3, guide=None):
  """Per-example ``(w ||u - u_tgt||^2, ||u - u_tgt||^2 / dims)`` at pairs drawn by ``tp``.

  ``u(z, r, t)``: the network's average velocity; x0 ~ N(0, I) from the first half of ``rng``,
  the times from the second; ``||.||^2`` sums over the dimensions, ``w`` = `adaptive_weight`.
  ``guide(z, t, v) -> v_g`` (optional) replaces the conditional velocity by a guided one
  (`guided_velocity`), also as the jvp's tangent in z.
  """
  k_noise, k_t = jax.random.split(rng)
  x0 = jax.random.normal(k_noise, x1.shape)
  t, r = sample_times(k_t, x1.shape[0], tp)
  z = flow.interpolate(x0, x1, t)
  v = x1 - x0
  if guide is not None:
    v = jax.lax.stop_gradient(guide(z, t, v))
  out, u_tgt = target(u, z, t, r, v)
  sq = jnp.sum((out - u_tgt) ** 2, axis=tuple(range(1, x1.ndim)))
  return adaptive_weight(sq, power, eps) * sq, sq / (x1.size // x1.shape[0])


def sample(u, z0, steps: int):
  """``(z_1, info)``: ``steps`` equal jumps ``z_r = z_t - (t - r) u(z_t, r, t)`` from t = 0
  (noise ``z0``) to 1; ``info['nfe'] = steps``."""
  b = z0.shape[0]

  def jump(i, z):
    t = jnp.full((b,), i / steps, jnp.float32)
    r = jnp.full((b,), (i + 1) / steps, jnp.float32)
    return z - _bcast(t - r, z) * u(z, r, t)

  return jax.lax.fori_loop(0, steps, jump, z0), {'nfe': steps}


def _bcast(a, like):
  return a.reshape(a.shape + (1,) * (like.ndim - a.ndim))
