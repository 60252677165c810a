"""Time grids for fixed-step ODE solvers and samplers.

Every grid is a 1-D float32 array of ``steps + 1`` times going from ``t0`` (first entry, where the
integration starts) to ``t1`` (last entry), in either direction; ``steps`` is a static int and
``t0``, ``t1`` may be traced. All functions are jit-compatible (pure jnp, no host round trips).

* ``uniform``: equally spaced in t.
* ``edm``: the Karras et al. (2022) rho schedule ``s_i = (s_a^(1/rho) + i/n (s_b^(1/rho) -
  s_a^(1/rho)))^rho`` on a noise level s, then mapped back to t. With ``log_snr`` /
  ``t_from_log_snr`` given (a schedule such as a `jaxgen.diffusion.sde` SDE), s is the EDM noise level
  ``sigma = exp(-log_snr / 2)`` (= sigma_t / alpha_t); without, s = |t - t1|, the distance to the
  end of the integration, so steps crowd near ``t1`` (the data end when sampling). rho = 7 is EDM's.
* ``log_snr``: uniform in ``lambda = log_snr(t)``, mapped back with ``t_from_log_snr``.
* ``shift``: SD3's resolution shift ``s' = a s / (1 + (a - 1) s)`` applied to the uniform
  fraction s of the way still to go (s = 1 at t0, s = 0 at t1); for sampling (t0 = noise, as
  SD3's t = 1) a > 1 spends more steps at high noise. a = 1 gives ``uniform``.

``make(name, ...)`` selects one by name; ``NAMES`` are the names a config may give
(``sampling.grid``, ``likelihood.grid``). The EDM sampler's noise levels in sigma (with a final 0)
are `jaxgen.diffusion.edm`'s, built on `rho_interp`.
"""

from __future__ import annotations

from typing import Callable, Optional

import jax.numpy as jnp


def _frac(steps: int) -> jnp.ndarray:
  return jnp.arange(steps + 1, dtype=jnp.float32) / steps


def uniform(t0, t1, steps: int) -> jnp.ndarray:
  """``steps + 1`` equally spaced times from ``t0`` to ``t1``."""
  t0 = jnp.asarray(t0, jnp.float32)
  t1 = jnp.asarray(t1, jnp.float32)
  g = t0 + (t1 - t0) * _frac(steps)
  return g.at[-1].set(t1)


def rho_interp(s_start, s_end, steps: int, rho: float = 7.0) -> jnp.ndarray:
  """``steps + 1`` values interpolated linearly in ``s^(1/rho)`` from s_start to s_end (>= 0)."""
  a = jnp.asarray(s_start, jnp.float32)**(1.0 / rho)
  b = jnp.asarray(s_end, jnp.float32)**(1.0 / rho)
  return (a + (b - a) * _frac(steps))**rho


def edm(t0, t1, steps: int, rho: float = 7.0, log_snr: Optional[Callable] = None,
        t_from_log_snr: Optional[Callable] = None) -> jnp.ndarray:
  """The EDM rho schedule between ``t0`` and ``t1`` (see module docstring)."""
  t0 = jnp.asarray(t0, jnp.float32)
  t1 = jnp.asarray(t1, jnp.float32)
  if log_snr is None:
    s = rho_interp(jnp.abs(t0 - t1), 0.0, steps, rho)
    g = t1 + jnp.sign(t0 - t1) * s
  else:
    sig = lambda t: jnp.exp(-0.5 * log_snr(t))
    s = rho_interp(sig(t0), sig(t1), steps, rho)
    g = t_from_log_snr(-2.0 * jnp.log(s))
  return g.at[0].set(t0).at[-1].set(t1)


def log_snr(t0, t1, steps: int, log_snr: Callable, t_from_log_snr: Callable) -> jnp.ndarray:
  """Times whose log-SNRs are equally spaced between ``log_snr(t0)`` and ``log_snr(t1)``."""
  t0 = jnp.asarray(t0, jnp.float32)
  t1 = jnp.asarray(t1, jnp.float32)
  l0, l1 = log_snr(t0), log_snr(t1)
  g = t_from_log_snr(l0 + (l1 - l0) * _frac(steps))
  return g.at[0].set(t0).at[-1].set(t1)


def shift(t0, t1, steps: int, a: float = 1.0) -> jnp.ndarray:
  """SD3 shift of a uniform grid (see module docstring)."""
  t0 = jnp.asarray(t0, jnp.float32)
  t1 = jnp.asarray(t1, jnp.float32)
  s = 1.0 - _frac(steps)
  s = a * s / (1.0 + (a - 1.0) * s)
  g = t1 + (t0 - t1) * s
  return g.at[0].set(t0).at[-1].set(t1)


def make(name: str, t0, t1, steps: int, *, rho: float = 7.0, shift_a: float = 1.0,
         schedule=None) -> jnp.ndarray:
  """Grid by name: ``'uniform' | 'edm' | 'log_snr' | 'shift'``.

  ``schedule``: an object with ``log_snr(t)`` and ``t_from_log_snr(lam)`` (e.g. a `jaxgen.diffusion.sde`
  SDE); required for ``'log_snr'``, optional for ``'edm'`` (see module docstring).
  """
  if name == 'uniform':
    return uniform(t0, t1, steps)
  if name == 'edm':
    if schedule is None:
      return edm(t0, t1, steps, rho)
    return edm(t0, t1, steps, rho, schedule.log_snr, schedule.t_from_log_snr)
  if name == 'log_snr':
    if schedule is None:
      raise ValueError("grid='log_snr' needs a schedule with log_snr / t_from_log_snr")
    return log_snr(t0, t1, steps, schedule.log_snr, schedule.t_from_log_snr)
  if name == 'shift':
    return shift(t0, t1, steps, shift_a)
  raise ValueError(f'unknown grid {name!r}; use one of {", ".join(NAMES)}')


# The grid names a config may give, with what each does (``python -m launch.solvers`` prints it).
DESCRIPTIONS = {
    'uniform': 'equally spaced in t',
    'edm': 'Karras et al. rho schedule (rho, default 7), steps crowd near t1',
    'log_snr': 'uniform in log-SNR (needs a schedule, e.g. a jaxgen.diffusion.sde SDE)',
    'shift': "SD3 shift t' = a t / (1 + (a - 1) t) with a = shift",
}
NAMES = tuple(DESCRIPTIONS)
