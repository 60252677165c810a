"""Importance sampling of t for the likelihood-weighted score loss (Song, Durkan, Murray & Ermon
2021, "Maximum likelihood training of score-based diffusion models").

Time as in `jaxgen.diffusion.sde`: t = 0 data, t = T noise, t in ``[eps, T]``. With likelihood
weighting ``lambda(t) = g(t)^2`` the per-time loss ``g^2 E||s + z / sigma||^2`` grows like
``g^2 / sigma^2 ~ 1 / t`` as t -> eps, so drawing t uniformly gives a high-variance estimate.
The proposal here has density

    q(t) = g(t)^2 / (sigma(t)^2 Z),    Z = int_eps^T g^2 / sigma^2 dt.

For the linear SDEs (``x_t = alpha x_0 + sigma z``, drift ``f = (d log alpha / dt) x``,
``g^2 = d sigma^2 / dt - 2 sigma^2 d log alpha / dt``) the ratio is minus the derivative of the
log-SNR ``lam(t) = log(alpha^2 / sigma^2)``: ``g^2 / sigma^2 = -d lam / dt``. Hence

    Z = lam(eps) - lam(T),    F(t) = (lam(eps) - lam(t)) / Z,

and t is drawn by inverse CDF, ``t = t_from_log_snr(lam(eps) - u Z)`` with ``u ~ U(0, 1)``: t is
uniform in log-SNR. The closed forms (`sde.t_from_log_snr`): VP ``B(t) = softplus(-lam)`` then
the quadratic's root (the reference code's formula for VP); sub-VP ``lam = -(2 log(e^B - 1) - B)``;
VE ``lam`` is linear in t, so q is uniform on ``[eps, T]``.

The uniform draw estimates ``E_{t ~ U(eps, T)}[lambda(t) L(t)]``; the importance weight
``w(t) = 1 / ((T - eps) q(t))`` keeps that objective: ``E_q[w lambda L] = E_U[lambda L]``. With
``lambda = g^2``: ``w g^2 ||s + z / sigma||^2 = Z / (T - eps) ||sigma s + z||^2`` (the reference
multiplies by Z alone, i.e. it estimates the integral, (T - eps) times our objective).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def normaliser(sde, eps: float) -> jax.Array:
  """``Z = int_eps^T g^2 / sigma^2 dt = lam(eps) - lam(T)`` (scalar)."""
  return sde.log_snr(jnp.float32(eps)) - sde.log_snr(jnp.float32(sde.T))


def ratio(sde, t: jax.Array) -> jax.Array:
  """``g(t)^2 / sigma(t)^2`` from the SDE's own coefficients, ``t: [b]``."""
  _, g = sde.sde(jnp.zeros((t.shape[0], 1)), t)
  return g**2 / sde.sigma(t)**2


def density(sde, t: jax.Array, eps: float) -> jax.Array:
  """``q(t) = g(t)^2 / (sigma(t)^2 Z)`` on ``[eps, T]``, ``t: [b]``."""
  return ratio(sde, t) / normaliser(sde, eps)


def cdf(sde, t: jax.Array, eps: float) -> jax.Array:
  """``F(t) = (lam(eps) - lam(t)) / Z``."""
  return (sde.log_snr(jnp.float32(eps)) - sde.log_snr(t)) / normaliser(sde, eps)


def sample_t(sde, rng: jax.Array, shape, eps: float) -> jax.Array:
  """t of the given shape drawn from ``q`` by inverse CDF (clipped to ``[eps, T]`` against
  round-off)."""
  u = jax.random.uniform(rng, tuple(shape))
  lam = sde.log_snr(jnp.float32(eps)) - u * normaliser(sde, eps)
  return jnp.clip(sde.t_from_log_snr(lam), eps, sde.T)


def weight(sde, t: jax.Array, eps: float) -> jax.Array:
  """``w(t) = 1 / ((T - eps) q(t))``: with t ~ q, ``w(t) h(t)`` has the expectation of ``h(t)``
  under ``t ~ U(eps, T)``."""
  return 1.0 / ((sde.T - eps) * density(sde, t, eps))
