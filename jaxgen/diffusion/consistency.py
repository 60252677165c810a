"""Consistency models (Song, Dhariwal, Chen, Sutskever 2023) with the improved training of iCT
(Song & Dhariwal 2023): the parametrisation, the discretisation curriculum, the lognormal
proposal, the pseudo-Huber loss, the CT and CD targets and the samplers.

EDM's noise space (`jaxgen.diffusion.edm`): ``x_sigma = x_0 + sigma z``, **sigma_min at the data
end, sigma_max at the noise end**, PF-ODE ``dx/dsigma = (x - D(sigma, x)) / sigma``; data in
[-1, 1] with ``sigma_data = 0.5``. The consistency function maps every point of a PF-ODE
trajectory to its point at sigma_min:

    f(sigma, x) = c_skip(sigma) x + c_out(sigma) F(sigma, x)
    c_skip = sigma_data^2 / ((sigma - sigma_min)^2 + sigma_data^2)
    c_out  = sigma_data (sigma - sigma_min) / sqrt(sigma_data^2 + sigma^2)

so ``c_skip(sigma_min) = 1``, ``c_out(sigma_min) = 0`` and ``f(sigma_min, x) = x`` exactly for a
finite ``F`` (the network, its input and noise label adapted by the family).

Training pairs are adjacent levels ``sigma_i < sigma_{i+1}`` of the Karras grid of ``N(k)``
points (rho = 7); ``N(k) = min(s0 2^floor(k / K'), s1) + 1``, ``K' = floor(K / (log2(s1 / s0)
+ 1))`` over K training steps (a fixed grid: s0 = s1). The pair index i is drawn with
probability proportional to ``erf((log sigma_{i+1} - P_mean) / (sqrt(2) P_std)) - erf((log
sigma_i - P_mean) / (sqrt(2) P_std))``; the loss ``lambda(sigma_i) d(f_theta(sigma_{i+1},
x_{i+1}), sg(f_theta(sigma_i, x_i)))`` with ``lambda = 1 / (sigma_{i+1} - sigma_i)`` and the
pseudo-Huber ``d(a, b) = sqrt(||a - b||^2 + c^2) - c``. CT: ``x_i = x_0 + sigma_i z`` with the
same z (iCT: the target network is the stop-gradient of the student, no EMA); CD: ``x_i`` is one
Heun (or Euler) step of the teacher's PF-ODE from ``x_{i+1}``. CT's loss does not vanish at the
exact consistency function (its two points lie on different trajectories; only its expected
gradient does); CD's does, up to the step's local error.

Grids are arrays of a fixed length ``s1 + 1`` (entries past ``N`` unused), so ``N`` may be a
traced value of the training step inside one compiled step.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Optional, Sequence

import jax
import jax.numpy as jnp
from jax.scipy.special import erf

from jaxgen.diffusion.sde import bcast
from jaxgen.ode import grids

SOLVERS = ('heun', 'euler')


@dataclasses.dataclass(frozen=True)
class Schedule:
  """The noise levels and the iCT training law (the papers' defaults); hashable."""

  sigma_min: float = 0.002
  sigma_max: float = 80.0
  sigma_data: float = 0.5
  rho: float = 7.0
  s0: int = 10          # initial number of intervals
  s1: int = 1280        # final number of intervals
  p_mean: float = -1.1  # lognormal proposal of log sigma
  p_std: float = 2.0

  def __post_init__(self):
    if not 0 < self.sigma_min < self.sigma_max:
      raise ValueError(f'sigma_min={self.sigma_min} and sigma_max={self.sigma_max}: need '
                       '0 < sigma_min < sigma_max')
    if not 1 <= self.s0 <= self.s1:
      raise ValueError(f's0={self.s0}, s1={self.s1}: need 1 <= s0 <= s1')


def skip_out(sigma, s: Schedule):
  """``(c_skip, c_out)`` at ``sigma`` (see module docstring)."""
  d = sigma - s.sigma_min
  c_skip = s.sigma_data**2 / (d**2 + s.sigma_data**2)
  c_out = s.sigma_data * d / jnp.sqrt(s.sigma_data**2 + sigma**2)
  return c_skip, c_out


def c_in(sigma, s: Schedule):
  """EDM's input scaling ``1 / sqrt(sigma^2 + sigma_data^2)`` (unit-variance network input)."""
  return 1.0 / jnp.sqrt(sigma**2 + s.sigma_data**2)


def consistency_fn(F: Callable, s: Schedule) -> Callable:
  """``f(sigma [b], x) = c_skip x + c_out F(sigma, x)`` of the raw network ``F(sigma, x)``."""

  def f(sigma, x):
    c_skip, c_out = skip_out(sigma, s)
    return bcast(c_skip, x) * x + bcast(c_out, x) * F(sigma, x)

  return f


def budget(total_steps: int, s: Schedule) -> int:
  """``K' = floor(K / (log2(s1 / s0) + 1))`` (at least 1): training steps per doubling of N."""
  return max(1, math.floor(total_steps / (math.log2(s.s1 / s.s0) + 1)))


def num_points(k, total_steps: int, s: Schedule):
  """``N(k) = min(s0 2^floor(k / K'), s1) + 1`` (int32; ``k`` an int or a traced step)."""
  doublings = jnp.floor_divide(jnp.asarray(k, jnp.int32), budget(total_steps, s))
  n = jnp.minimum(s.s0 * 2.0 ** jnp.minimum(doublings, 31).astype(jnp.float32), s.s1)
  return n.astype(jnp.int32) + 1


def karras_grid(n, s: Schedule):
  """``[s1 + 1]``: the ``n`` increasing levels ``(sigma_min^(1/rho) + i / (n - 1)
  (sigma_max^(1/rho) - sigma_min^(1/rho)))^rho``, i < n (the first exactly sigma_min), then
  sigma_max."""
  i = jnp.arange(s.s1 + 1, dtype=jnp.float32)
  frac = jnp.minimum(i / (jnp.asarray(n, jnp.float32) - 1.0), 1.0)
  a, b = s.sigma_min ** (1.0 / s.rho), s.sigma_max ** (1.0 / s.rho)
  return jnp.where(i == 0, jnp.float32(s.sigma_min), (a + frac * (b - a)) ** s.rho)


def pair_probabilities(n, s: Schedule):
  """``[s1]``: the lognormal proposal's probability of each pair (i, i + 1) of the n-point grid
  (0 for i >= n - 1)."""
  log_sigma = jnp.log(karras_grid(n, s))
  cdf = erf((log_sigma - s.p_mean) / (math.sqrt(2.0) * s.p_std))
  mass = jnp.where(jnp.arange(s.s1) < n - 1, cdf[1:] - cdf[:-1], 0.0)
  return mass / jnp.sum(mass)


def sample_pairs(rng, b: int, n, s: Schedule):
  """``(sigma_i, sigma_{i+1})``, each ``[b]``: pair indices drawn from `pair_probabilities`."""
  grid = karras_grid(n, s)
  p = pair_probabilities(n, s)
  i = jax.random.categorical(rng, jnp.where(p > 0, jnp.log(jnp.maximum(p, 1e-38)), -jnp.inf),
                             shape=(b,))
  return grid[i], grid[i + 1]


def huber_c(dims: int) -> float:
  """iCT's pseudo-Huber constant ``c = 0.00054 sqrt(d)`` for data of ``d`` dimensions."""
  return 0.00054 * math.sqrt(dims)


def pseudo_huber(a, b, c: float):
  """Per-example ``sqrt(||a - b||^2 + c^2) - c`` (the norm over all but the batch axis)."""
  sq = jnp.sum((a - b) ** 2, axis=tuple(range(1, a.ndim)))
  return jnp.sqrt(sq + c**2) - c


def teacher_step(denoiser: Callable, x, sigma_from, sigma_to, solver: str = 'heun'):
  """One step of the PF-ODE ``dx/dsigma = (x - D(sigma, x)) / sigma`` from ``sigma_from`` to
  ``sigma_to`` (both ``[b]``, > 0), Euler or Heun (two denoiser calls)."""
  if solver not in SOLVERS:
    raise ValueError(f'teacher solver {solver!r}; choose one of: {", ".join(SOLVERS)}')
  h = bcast(sigma_to - sigma_from, x)
  d1 = (x - denoiser(sigma_from, x)) / bcast(sigma_from, x)
  x_euler = x + h * d1
  if solver == 'euler':
    return x_euler
  d2 = (x_euler - denoiser(sigma_to, x_euler)) / bcast(sigma_to, x_euler)
  return x + h * 0.5 * (d1 + d2)


def loss(f: Callable, x0, rng, n, s: Schedule, c: Optional[float] = None,
         denoiser: Optional[Callable] = None, solver: str = 'heun'):
  """Per-example ``(lambda(sigma_i) d, d)`` at pairs of the ``n``-point grid drawn from ``rng``.

  ``f(sigma [b], x)``: the consistency function (trained through its first argument's call);
  ``denoiser``: None for consistency training, else the teacher's ``D(sigma, x)`` (consistency
  distillation, one ``solver`` step); ``c``: the pseudo-Huber constant (None: `huber_c`).
  """
  k_pair, k_noise = jax.random.split(rng)
  sigma, sigma_next = sample_pairs(k_pair, x0.shape[0], n, s)
  z = jax.random.normal(k_noise, x0.shape, x0.dtype)
  x_next = x0 + bcast(sigma_next, z) * z
  if denoiser is None:
    x_prev = x0 + bcast(sigma, z) * z
  else:
    x_prev = jax.lax.stop_gradient(teacher_step(denoiser, x_next, sigma_next, sigma, solver))
  target = jax.lax.stop_gradient(f(sigma, x_prev))
  d = pseudo_huber(f(sigma_next, x_next), target,
                   huber_c(x0.size // x0.shape[0]) if c is None else c)
  return d / (sigma_next - sigma), d


def default_sigmas(steps: int, s: Schedule) -> tuple[float, ...]:
  """The ``steps`` decreasing levels a sampler visits by default: the first ``steps`` of the
  rho-grid of ``steps + 1`` points from sigma_max to sigma_min."""
  grid = grids.rho_interp(s.sigma_max, s.sigma_min, steps, s.rho)
  return tuple(float(v) for v in grid[:steps])


def sample(f: Callable, rng, shape, sigmas: Sequence[float], s: Schedule):
  """``(x, info)``: ``x = f(sigmas[0], sigmas[0] z)``, then for each further level ``sigma``
  re-noised to it, ``x <- f(sigma, x + sqrt(sigma^2 - sigma_min^2) z')``; ``info['nfe'] =
  len(sigmas)``. ``sigmas``: decreasing, in (sigma_min, sigma_max]."""
  keys = jax.random.split(rng, len(sigmas))
  b = shape[0]
  x = sigmas[0] * jax.random.normal(keys[0], shape)
  x = f(jnp.full((b,), sigmas[0], jnp.float32), x)
  for key, level in zip(keys[1:], sigmas[1:]):
    noise = math.sqrt(max(level**2 - s.sigma_min**2, 0.0)) * jax.random.normal(key, shape)
    x = f(jnp.full((b,), level, jnp.float32), x + noise)
  return x, {'nfe': len(sigmas)}
