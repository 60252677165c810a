"""DPM-Solver (Lu et al., NeurIPS 2022) and DPM-Solver++(2M) (Lu et al., 2022b), jit-able.

Fast solvers of the probability-flow ODE of a Gaussian-marginal diffusion ``x_t = alpha_t x_0 +
sigma_t z`` written in the log-SNR ``lambda = log(alpha^2 / sigma^2)`` (NB: the papers use
``lambda = log(alpha / sigma)``, half of ours; every formula below uses ``h`` = the papers' step
= half our log-SNR difference). Works for VP and sub-VP (and VE, alpha = 1).

Signatures (k-diffusion style: explicit grid, returns samples and stats):

    dpm_solver(eps_fn, x, ts, sde, *, order=3) -> (x, {'nfe': int32})          # singlestep
    dpm_solver_pp_2m(eps_fn, x, ts, sde, *, lower_order_final=True) -> (x, {'nfe': int32})

* ``eps_fn(t, x) -> noise prediction``; ``t: [b]``, ``x: [b, *shape]`` (t = 0 data, t = T noise).
  From a score model: ``sde.noise_from_score(score_fn)``.
* ``x``: the start at ``ts[0]``; ``ts``: any decreasing grid ``[M + 1]``; the papers' (and the
  best) choice is uniform in log-SNR:
  ``jaxgen.ode.grids.log_snr(sde.T, sde.eps, M, sde.log_snr, sde.t_from_log_snr)``.
* ``sde``: has ``alpha(t)``, ``sigma(t)``, ``log_snr(t)``, ``t_from_log_snr(lam)``.

``dpm_solver`` with ``order = k`` in {1, 2, 3} takes M singlestep steps of DPM-Solver-k
(intermediate times at fractions r = 1/2 for k = 2 and r = 1/3, 2/3 for k = 3 of each step in
log-SNR), ``nfe = k M``; its global error is O(h^k). DPM-Solver-1 is DDIM (eta = 0).
``dpm_solver_pp_2m`` is the multistep second-order solver in data prediction
``x0 = (x - sigma eps) / alpha``, one evaluation per step (``nfe = M``); the first step is first
order and, with ``lower_order_final`` (diffusers' default, applied when M < 15), so is
the last.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp


def _h(sde, t):
  """Half log-SNR (the papers' lambda) at scalar ``t``."""
  return 0.5 * sde.log_snr(t)


def _t(sde, h):
  return sde.t_from_log_snr(2.0 * h)


def _eps(eps_fn, t, x):
  """``eps_fn`` at the scalar time ``t`` broadcast to the batch."""
  return eps_fn(jnp.full((x.shape[0],), t, jnp.float32), x)


def dpm_solver_1_step(eps_fn, x, s, t, sde, eps_s=None):
  """DPM-Solver-1 from ``s`` to ``t < s``: ``x_t = (a_t/a_s) x - sigma_t (e^h - 1) eps(s, x)``."""
  eps_s = _eps(eps_fn, s, x) if eps_s is None else eps_s
  h = _h(sde, t) - _h(sde, s)
  return sde.alpha(t) / sde.alpha(s) * x - sde.sigma(t) * jnp.expm1(h) * eps_s


def dpm_solver_2_step(eps_fn, x, s, t, sde, r1: float = 0.5):
  """DPM-Solver-2 (Lu et al. Algorithm 1) from ``s`` to ``t``; 2 evaluations."""
  ls, lt = _h(sde, s), _h(sde, t)
  h = lt - ls
  s1 = _t(sde, ls + r1 * h)
  eps_s = _eps(eps_fn, s, x)
  a_s = sde.alpha(s)
  u = sde.alpha(s1) / a_s * x - sde.sigma(s1) * jnp.expm1(r1 * h) * eps_s
  eps_1 = _eps(eps_fn, s1, u)
  return (sde.alpha(t) / a_s * x - sde.sigma(t) * jnp.expm1(h) * eps_s
          - sde.sigma(t) / (2.0 * r1) * jnp.expm1(h) * (eps_1 - eps_s))


def dpm_solver_3_step(eps_fn, x, s, t, sde, r1: float = 1.0 / 3.0, r2: float = 2.0 / 3.0):
  """DPM-Solver-3 (Lu et al. Algorithm 2) from ``s`` to ``t``; 3 evaluations."""
  ls, lt = _h(sde, s), _h(sde, t)
  h = lt - ls
  s1, s2 = _t(sde, ls + r1 * h), _t(sde, ls + r2 * h)
  a_s = sde.alpha(s)
  eps_s = _eps(eps_fn, s, x)
  u1 = sde.alpha(s1) / a_s * x - sde.sigma(s1) * jnp.expm1(r1 * h) * eps_s
  d1 = _eps(eps_fn, s1, u1) - eps_s
  phi2 = jnp.expm1(r2 * h)
  u2 = (sde.alpha(s2) / a_s * x - sde.sigma(s2) * phi2 * eps_s
        - sde.sigma(s2) * r2 / r1 * (phi2 / (r2 * h) - 1.0) * d1)
  d2 = _eps(eps_fn, s2, u2) - eps_s
  phi = jnp.expm1(h)
  return (sde.alpha(t) / a_s * x - sde.sigma(t) * phi * eps_s
          - sde.sigma(t) / r2 * (phi / h - 1.0) * d2)


_STEPS = {1: (dpm_solver_1_step, 1), 2: (dpm_solver_2_step, 2), 3: (dpm_solver_3_step, 3)}


def dpm_solver(eps_fn: Callable, x: jax.Array, ts: jax.Array, sde, *, order: int = 3):
  """Singlestep DPM-Solver-``order`` along ``ts`` (see module docstring)."""
  if order not in _STEPS:
    raise ValueError(f'DPM-Solver order must be 1, 2 or 3, got {order}')
  step, k = _STEPS[order]
  ts = jnp.asarray(ts, jnp.float32)
  m = ts.shape[0] - 1

  def body(x, st):
    s, t = st
    return step(eps_fn, x, s, t, sde), None

  x, _ = jax.lax.scan(body, x, (ts[:-1], ts[1:]))
  return x, {'nfe': jnp.asarray(k * m, jnp.int32)}


def dpm_solver_pp_2m(eps_fn: Callable, x: jax.Array, ts: jax.Array, sde, *,
                     lower_order_final: bool = True):
  """DPM-Solver++(2M) along ``ts``: multistep, data prediction, ``nfe = M``."""
  ts = jnp.asarray(ts, jnp.float32)
  m = ts.shape[0] - 1

  def x0_fn(t, x):
    return (x - sde.sigma(t) * _eps(eps_fn, t, x)) / sde.alpha(t)

  def body(carry, inp):
    x, x0_prev, h_prev = carry
    i, s, t = inp
    x0 = x0_fn(s, x)
    hs, ht = _h(sde, s), _h(sde, t)
    h = ht - hs
    first = i == 0
    if lower_order_final:
      first = jnp.logical_or(first, jnp.logical_and(i == m - 1, m < 15))
    r = h_prev / h
    d = jnp.where(first, x0, (1.0 + 0.5 / r) * x0 - (0.5 / r) * x0_prev)
    x = sde.sigma(t) / sde.sigma(s) * x - sde.alpha(t) * jnp.expm1(-h) * d
    return (x, x0, h), None

  init = (x, jnp.zeros_like(x), jnp.ones((), jnp.float32))
  (x, _, _), _ = jax.lax.scan(body, init, (jnp.arange(m), ts[:-1], ts[1:]))
  return x, {'nfe': jnp.asarray(m, jnp.int32)}
