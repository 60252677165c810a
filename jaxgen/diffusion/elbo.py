"""The variational bound on -log p(x) of a score-based model (Song, Durkan, Murray & Ermon 2021,
"Maximum likelihood training of score-based diffusion models", Theorem 1), in nats per example.

Time as in `jaxgen.diffusion.sde`: t = 0 data, t = T noise; ``x_t = alpha x + sigma z``; the drift
is linear, ``f(x, t) = c(t) x``, so ``div f = D c(t)`` (D = data dimensions). The bound of the
reverse SDE started from the prior pi at T and stopped at ``eps > 0``:

    -log p(x) <= E[-log pi(x_T)]                                              (prior)
                 + 1/2 int_eps^T E[g^2 (||s - a||^2 - ||a||^2) - 2 div f] dt    (score term)
                 + E[-log q(x | x_eps) + log p(x_eps | x)]                      (eps offset)

with ``s = score_fn(t, x_t)`` and ``a = grad log p(x_t | x) = -z / sigma``. Expanded,
``g^2 (||s - a||^2 - ||a||^2) = (g^2 / sigma^2) (||sigma s + z||^2 - ||z||^2)``; ``||z||^2`` is
replaced by its mean D (same expectation; no variance where ``sigma s ~ -z``, i.e. near the data).
The score term is estimated with ``num_t`` draws of (t, z) per example: t uniform on ``[eps, T]``,
or (``importance_sampling``) from ``q ~ g^2 / sigma^2`` of `jaxgen.diffusion.likelihood_weighting`,
each divided by its density. The prior term is exact for the Gaussian prior
``N(0, P^2 I)`` (P = ``sde.prior_std``): ``D/2 log(2 pi P^2) + (alpha_T^2 ||x||^2 + D sigma_T^2) /
(2 P^2)`` (the reference code draws one x_T). The eps offset bounds the model's density at 0 by
Jensen with the decoder ``q(x | x_eps) = N((x_eps + sigma^2 s) / alpha, sigma^2 / alpha^2 I)`` at
``t = eps`` (Tweedie's mean, the reference code's ``eps_offset``); ``log p(x_eps | x)`` enters by
its exact mean, minus the Gaussian entropy ``D/2 (log(2 pi sigma^2) + 1)``.

With the exact score of the data and ``pi = p_T`` the bound is tight: equality up to the O(eps)
decoder gap; with another prior it exceeds -log p(x) by ``E[log p_T(x_T) - log pi(x_T) | x]``.
Bits/dim from these nats: `jaxgen.metrics.bpd`.
"""

from __future__ import annotations

import math
from typing import Callable

import jax
import jax.numpy as jnp

from jaxgen.diffusion import likelihood_weighting as importance
from jaxgen.diffusion.sde import bcast

ScoreFn = Callable[[jax.Array, jax.Array], jax.Array]


def _sum(v: jax.Array) -> jax.Array:
  return jnp.sum(v.reshape(v.shape[0], -1), axis=-1)


def prior_term(sde, x: jax.Array) -> jax.Array:
  """``[b]`` ``E[-log pi(x_T) | x]`` for the Gaussian prior ``N(0, prior_std^2 I)``."""
  d = x[0].size
  t = jnp.full(x.shape[:1], sde.T, jnp.float32)
  a, s, p2 = sde.alpha(t), sde.sigma(t), sde.prior_std**2
  return 0.5 * d * math.log(2 * math.pi * p2) + (a**2 * _sum(x**2) + d * s**2) / (2 * p2)


def score_term(score_fn: ScoreFn, sde, x: jax.Array, rng: jax.Array, *, eps: float,
               importance_sampling: bool) -> jax.Array:
  """``[b]`` one-draw estimate of ``1/2 int_eps^T E[g^2 (||s - a||^2 - ||a||^2) - 2 div f] dt``."""
  rt, rz = jax.random.split(rng)
  b, d = x.shape[0], x[0].size
  if importance_sampling:
    t = importance.sample_t(sde, rt, (b,), eps)
    inv_q = 1.0 / importance.density(sde, t, eps)
  else:
    t = jax.random.uniform(rt, (b,), minval=eps, maxval=sde.T)
    inv_q = jnp.full((b,), sde.T - eps)
  z = jax.random.normal(rz, x.shape, x.dtype)
  mean, std = sde.marginal_prob(x, t)
  s = score_fn(t, mean + bcast(std, x) * z)
  f, g = sde.sde(jnp.ones((b, 1)), t)  # f = c(t) at x = 1
  integrand = (g**2 / std**2 * (_sum(jnp.square(bcast(std, x) * s + z)) - d)
               - 2.0 * d * f[:, 0])
  return 0.5 * integrand * inv_q


def eps_offset(score_fn: ScoreFn, sde, x: jax.Array, rng: jax.Array, *, eps: float) -> jax.Array:
  """``[b]`` one-draw estimate of ``E[-log q(x | x_eps)] - H[p(x_eps | x)]`` (module docstring)."""
  d = x[0].size
  t = jnp.full(x.shape[:1], eps, jnp.float32)
  mean, std = sde.marginal_prob(x, t)
  alpha = sde.alpha(t)
  x_eps = mean + bcast(std, x) * jax.random.normal(rng, x.shape, x.dtype)
  q_mean = (x_eps + bcast(std**2, x) * score_fn(t, x_eps)) / bcast(alpha, x)
  q_var = std**2 / alpha**2
  recon = 0.5 * d * jnp.log(2 * math.pi * q_var) + _sum(jnp.square(x - q_mean)) / (2 * q_var)
  entropy = 0.5 * d * (jnp.log(2 * math.pi * std**2) + 1.0)
  return recon - entropy


def negative_elbo(score_fn: ScoreFn, sde, x: jax.Array, rng: jax.Array, *, eps: float = 1e-5,
                  num_t: int = 1, importance_sampling: bool = True,
                  offset: bool = True) -> jax.Array:
  """``[b]`` upper bound on ``-log p(x)`` in nats (module docstring): the exact prior term, the
  score term averaged over ``num_t`` draws (a `jax.lax.scan`, one score evaluation each) and,
  if ``offset``, the eps offset (one more score evaluation)."""
  r_scan, r_off = jax.random.split(rng)

  def step(total, key):
    return total + score_term(score_fn, sde, x, key, eps=eps,
                              importance_sampling=importance_sampling), None

  total, _ = jax.lax.scan(step, jnp.zeros(x.shape[:1]), jax.random.split(r_scan, num_t))
  out = prior_term(sde, x) + total / num_t
  if offset:
    out = out + eps_offset(score_fn, sde, x, r_off, eps=eps)
  return out
