"""Shortcut models (Frans, Hafner, Levine, Abbeel 2024): a velocity conditioned on the step size.

Time as in `jaxgen.ode.flow`: **t = 0 noise x0, t = 1 data x1**, ``x_t = t x1 + (1 - t) x0``.
The network ``s(x_t, t, d)`` is the direction of one Euler jump of size d, ``x_{t+d} = x_t + d
s``. At d = 0 it is the flow's velocity, trained with the flow-matching target ``x1 - x0``; a
larger step learns from two half steps of the model itself (stop-gradient):

    s(x_t, t, 2d) = (s(x_t, t, d) + s(x'_{t+d}, t + d, d)) / 2,  x'_{t+d} = x_t + d s(x_t, t, d)

The paper runs time the same way. Step sizes are powers of two: with ``max_steps = M`` (a power
of two, the paper's 128) the targets are trained for 2d in {1, 1/2, ..., 2/M} at times t on that
step's grid {0, 2d, ..., 1 - 2d} (where its k-step sampler evaluates), and the finest half step
d = 1/M is queried at d = 0 (`network_step`): the network sees d in {0, 2/M, ..., 1}.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from jaxgen.ode import flow


def is_power_of_two(k: int) -> bool:
  return k >= 1 and (k & (k - 1)) == 0


def network_step(d, max_steps: int):
  """The step size the network sees for a jump of size ``d``: d, except 0 (the flow's velocity)
  for the finest step ``d <= 1 / max_steps``."""
  return jnp.where(d * max_steps <= 1.0 + 1e-6, 0.0, d)


def flow_matching_target(x0, x1, t):
  """``(x_t, x1 - x0)``: the point and the target of the d = 0 examples."""
  return flow.interpolate(x0, x1, t), x1 - x0


def self_consistency_target(s, x, t, d, max_steps: int):
  """``sg((s(x, t, d') + s(x', t + d, d')) / 2)``, ``x' = x + d s(x, t, d')``, ``d' =
  network_step(d)``: the target of ``s(x, t, 2d)``. ``s(x, t[b], d[b])``; t, d of shape [b]."""
  dq = network_step(d, max_steps)
  s1 = s(x, t, dq)
  s2 = s(x + _bcast(d, x) * s1, t + d, dq)
  return jax.lax.stop_gradient(0.5 * (s1 + s2))


def targets(s, x1, rng, fraction: float, max_steps: int):
  """``(x_t, t, D, target)``, each with the batch's b rows, for ``s(x, t[b], d[b], rows)``.

  The first ``b - round(fraction * b)`` examples: D = 0, t ~ U(0, 1), the flow-matching target;
  the rest: D = 2d uniform over {1, 1/2, ..., 2/M}, t uniform on {0, D, ..., 1 - D}, the
  self-consistency target. ``rows`` (a slice) says which examples of the batch a call sees (for
  per-example conditioning such as labels). x0 ~ N(0, I) from ``rng``.
  """
  b = x1.shape[0]
  n_fm = b - round(fraction * b)
  k_noise, k_t, k_d, k_grid = jax.random.split(rng, 4)
  x0 = jax.random.normal(k_noise, x1.shape)
  j = jax.random.randint(k_d, (b - n_fm,), 0, int(math.log2(max_steps)))   # D = 2^-j
  big = 2.0 ** -j.astype(jnp.float32)
  on_grid = jax.random.randint(k_grid, (b - n_fm,), 0, 2 ** j).astype(jnp.float32) * big
  t = jnp.concatenate([jax.random.uniform(k_t, (n_fm,)), on_grid])
  x_t, v = flow_matching_target(x0, x1, t)
  sc = slice(n_fm, b)
  consistent = v[sc] if n_fm == b else self_consistency_target(
      lambda x, tt, dd: s(x, tt, dd, sc), x_t[sc], t[sc], big / 2, max_steps)
  return (x_t, t, jnp.concatenate([jnp.zeros((n_fm,)), big]),
          jnp.concatenate([v[:n_fm], consistent]))


def loss(s, x1, rng, fraction: float, max_steps: int):
  """Per-example ``mean_dims ||s(x_t, t, D) - target||^2`` at the `targets` of ``rng``."""
  x_t, t, step, target = targets(s, x1, rng, fraction, max_steps)
  pred = s(x_t, t, step, slice(0, x1.shape[0]))
  return jnp.mean((pred - target) ** 2, axis=tuple(range(1, x1.ndim)))


def sample(s, z0, steps: int, max_steps: int):
  """``(z_1, info)``: ``steps`` (a power of two <= max_steps) Euler jumps of size d = 1/steps,
  ``z <- z + d s(z, t, network_step(d))``, from t = 0 (noise ``z0``) to 1; ``info['nfe']``."""
  if not is_power_of_two(steps) or steps > max_steps:
    raise ValueError(f'{steps} shortcut steps: the model knows step sizes 1/k for k a power of two '
                     f'up to {max_steps}')
  b, d = z0.shape[0], 1.0 / steps
  dq = network_step(jnp.full((b,), d, jnp.float32), max_steps)

  def jump(i, z):
    return z + d * s(z, jnp.full((b,), i * d, jnp.float32), dq)

  return jax.lax.fori_loop(0, steps, jump, z0), {'nfe': steps}


def _bcast(a, like):
  return a.reshape(a.shape + (1,) * (like.ndim - a.ndim))
