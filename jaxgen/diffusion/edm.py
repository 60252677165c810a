"""EDM sampler (Karras et al., NeurIPS 2022, Algorithm 2): Heun with a final Euler step, jit-able.

Works in EDM's "VE space": ``x = x_0 + sigma n``, ODE ``dx/dsigma = (x - D(x; sigma)) / sigma``.

Signatures (k-diffusion style: explicit noise grid in, samples and stats out):

    edm_sampler(denoiser, x, sigmas, *, rng=None, S_churn=0., S_tmin=0., S_tmax=inf,
                S_noise=1.) -> (x0, {'nfe': int32})
    denoiser_from_score(sde, score_fn) -> denoiser(sigma, x)
    sigmas(steps, sigma_min=0.002, sigma_max=80., rho=7.) -> sigmas[steps + 1]   # EDM eq. 5, then 0
    sde_sigmas(sde, steps, rho=7.0, eps=None) -> sigmas[steps + 1]
    sample_sde(sde, score_fn, rng, shape, steps, *, rho=7.0, eps=None, S_churn=0., S_tmin=0.,
               S_tmax=inf, S_noise=1.) -> (x0, {'nfe'})

* ``denoiser(sigma, x) -> E[x_0 | x]`` with ``sigma: [b]``, ``x: [b, *shape]`` (the ``(t, x)``
  order of `jaxgen.diffusion`, with the noise level as the time).
* ``x``: the start at ``sigmas[0]``, ``sigmas[0] * N(0, I)`` (as in EDM).
* ``sigmas``: decreasing ``[N + 1]`` with ``sigmas[-1] = 0``; EDM's grid is
  ``sigmas(N, 0.002, 80, rho=7)``.
* Each step: optional churn (``gamma = min(S_churn / N, sqrt(2) - 1)`` where
  ``S_tmin <= sigma_i <= S_tmax``, noise ``sqrt(sigma_hat^2 - sigma_i^2) S_noise z``), an Euler
  step to ``sigma_{i+1}`` and, unless ``sigma_{i+1} = 0``, Heun's correction: ``nfe = 2 N - 1``
  (counted in-graph). ``rng`` is needed when ``S_churn > 0``.

For a score-SDE model (any `jaxgen.diffusion.sde` SDE, x_t = alpha x_0 + sigma z): the EDM noise level is
``sigma_edm = sigma_t / alpha_t = exp(-log_snr / 2)`` and ``x_edm = x_t / alpha_t``; the denoiser
is Tweedie's ``D = (x_t + sigma_t^2 score(t, x_t)) / alpha_t`` at ``t = t_from_log_snr(-2 log
sigma_edm)``. ``sample_sde`` uses EDM's rho-grid between ``sigma_edm(eps)`` (default ``sde.eps``) and
``sigma_edm(T)`` followed by 0.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import jax
import jax.numpy as jnp

from jaxgen.ode import grids
from jaxgen.diffusion.sde import bcast


def edm_sampler(denoiser: Callable, x: jax.Array, sigmas: jax.Array, *,
                rng: Optional[jax.Array] = None, S_churn: float = 0.0, S_tmin: float = 0.0,
                S_tmax: float = float('inf'), S_noise: float = 1.0):
  """Karras et al. Algorithm 2 along ``sigmas`` (see module docstring)."""
  sigmas = jnp.asarray(sigmas, jnp.float32)
  n = sigmas.shape[0] - 1
  if S_churn > 0 and rng is None:
    raise ValueError('edm_sampler with S_churn > 0 needs rng')
  keys = jax.random.split(rng if rng is not None else jax.random.PRNGKey(0), n)
  b = x.shape[0]

  def d_of(s, x):
    return (x - denoiser(jnp.full((b,), s, jnp.float32), x)) / s

  def body(carry, inp):
    x, nfe = carry
    s, s_next, key = inp
    if S_churn > 0:
      gamma = jnp.where((s >= S_tmin) & (s <= S_tmax), min(S_churn / n, math.sqrt(2.0) - 1.0), 0.0)
      s_hat = s * (1.0 + gamma)
      z = jax.random.normal(key, x.shape, x.dtype)
      x = x + jnp.sqrt(jnp.maximum(s_hat**2 - s**2, 0.0)) * S_noise * z
    else:
      s_hat = s
    d = d_of(s_hat, x)
    x_euler = x + (s_next - s_hat) * d

    def heun(_):
      d2 = d_of(s_next, x_euler)
      return x + (s_next - s_hat) * 0.5 * (d + d2)

    last = s_next <= 0.0
    x_new = jax.lax.cond(last, lambda _: x_euler, heun, None)
    return (x_new, nfe + 1 + (1 - last.astype(jnp.int32))), None

  (x, nfe), _ = jax.lax.scan(body, (x, jnp.zeros((), jnp.int32)), (sigmas[:-1], sigmas[1:], keys))
  return x, {'nfe': nfe}


def denoiser_from_score(sde, score_fn: Callable) -> Callable:
  """EDM denoiser ``D(sigma_edm, x_edm)`` of a score-SDE score (see module docstring)."""

  def denoiser(sigma, x):
    t = sde.t_from_log_snr(-2.0 * jnp.log(sigma))
    return sde.tweedie(score_fn, t, bcast(sde.alpha(t), x) * x)

  return denoiser


def sigmas(steps: int, sigma_min=0.002, sigma_max=80.0, rho: float = 7.0) -> jax.Array:
  """EDM's ``steps`` noise levels sigma_max .. sigma_min (Karras et al. eq. 5,
  ``(s_max^(1/rho) + i / (steps - 1) (s_min^(1/rho) - s_max^(1/rho)))^rho``) plus a final 0.

  Shape ``[steps + 1]``: a sampler with ``steps`` intervals ends exactly at sigma = 0.
  """
  if steps == 1:
    s = jnp.asarray(sigma_max, jnp.float32)[None]
  else:
    s = grids.rho_interp(sigma_max, sigma_min, steps - 1, rho)
  return jnp.concatenate([s, jnp.zeros((1,), jnp.float32)])


def sde_sigmas(sde, steps: int, rho: float = 7.0, eps: Optional[float] = None) -> jax.Array:
  """`sigmas` between ``sigma_edm(eps)`` (default ``sde.eps``) and ``sigma_edm(T)``, with
  ``sigma_edm = exp(-log_snr / 2)``."""
  eps = sde.eps if eps is None else eps
  smax = jnp.exp(-0.5 * sde.log_snr(jnp.float32(sde.T)))
  smin = jnp.exp(-0.5 * sde.log_snr(jnp.float32(eps)))
  return sigmas(steps, smin, smax, rho)


def sample_sde(sde, score_fn: Callable, rng: jax.Array, shape, steps: int, *, rho: float = 7.0,
               eps: Optional[float] = None, S_churn: float = 0.0, S_tmin: float = 0.0,
               S_tmax: float = float('inf'), S_noise: float = 1.0):
  """EDM sampling of a score-SDE model from ``sigma_edm(T)`` (`sde_sigmas` down to ``eps``, then
  0); returns the data-space ``x_0``."""
  r0, r1 = jax.random.split(rng)
  grid = sde_sigmas(sde, steps, rho, eps)
  x = grid[0] * jax.random.normal(r0, tuple(shape))
  return edm_sampler(denoiser_from_score(sde, score_fn), x, grid, rng=r1, S_churn=S_churn,
                     S_tmin=S_tmin, S_tmax=S_tmax, S_noise=S_noise)
