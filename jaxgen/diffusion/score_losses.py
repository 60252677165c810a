"""Score-matching objectives of score-based SDE models, and how a network output becomes a score.

Conventions (those of `jaxgen.diffusion.sde`): time ``t`` in ``[0, T]``, ``T = 1``; **t = 0 is data,
t = T is noise**. The forward marginal is ``x_t = alpha(t) x_0 + sigma(t) z``, ``z ~ N(0, I)``. A batch is
``x: [b, *shape]``; per-example coefficients are ``[b]``. Every loss returns
``(scalar batch mean, per-example losses [b])``.

Network output -> score (``make_score_fn``; the paper's and the reference code's conventions)
------------------------------------------------------------------------------------------------
* VP / sub-VP, continuous: the network gets the label ``t * 999`` and predicts the noise ``z``;
  ``score = -output / sigma(t)`` (sigma = marginal std).
* VP, discrete (DDPM): label = the integer step ``i = round(t (N - 1))`` (as a float) and
  ``score = -output / sqrt(1 - alphabar_i)`` with DDPM's ``betas = linspace(b0/N, b1/N, N)``.
* VE, continuous: label ``sigma(t)`` (the network embeds ``log sigma``, e.g. Fourier features);
  ``score = output / sigma(t)`` if ``scale_by_sigma`` else ``output``.
* VE, discrete (SMLD): label ``sigma_i`` of the geometric ladder, ``i = round(t (N - 1))``, and the
  same optional division.
* sub-VP has no discrete chain: it is continuous only.

Losses
------
* ``dsm_loss`` (continuous): ``t ~ U(eps, T)``, ``eps = 1e-5`` in the paper;
  default weighting ``lambda = sigma^2``: ``|| s sigma + z ||^2``; likelihood weighting
  ``lambda = g(t)^2``: ``|| s + z / sigma ||^2 g(t)^2`` (Song et al. 2021b, an upper bound on NLL).
  ``importance_sampling`` (with likelihood weighting only) draws t from ``q ~ g^2 / sigma^2``
  instead and weights by ``1 / ((T - eps) q)``: ``Z / (T - eps) || s sigma + z ||^2``, the same
  objective in expectation (`jaxgen.diffusion.likelihood_weighting`).
* ``ddpm_loss`` (discrete VP): ``i ~ U{0..N-1}``, ``|| eps_hat - z ||^2`` with
  ``eps_hat = -sqrt(1 - alphabar_i) s`` (= the raw network output in the convention above).
* ``smld_loss`` (discrete VE): ``i ~ U{0..N-1}``, ``|| s - (-z / sigma_i) ||^2 sigma_i^2``.
Reduction over the data dimensions is the mean (``reduce_mean=True``) or ``0.5 * sum``.

At the exact score of data ``N(m, s0^2 I)`` every loss keeps an irreducible term: per dimension
``E||s sigma + z||^2 = alpha^2 s0^2 / (alpha^2 s0^2 + sigma^2)``
(tests/diffusion/test_score_losses.py).
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

from jaxgen.diffusion import likelihood_weighting as importance
from jaxgen.diffusion import sde as sde_lib
from jaxgen.diffusion.sde import bcast

# score_fn(params, t[b], x[b,...], rng, train) -> score like x (the (t, x) order of the samplers)
ScoreFn = Callable[..., jax.Array]
# net_fn(params, x[b,...], labels[b], train, rng) -> output like x
NetFn = Callable[..., jax.Array]


def sde_kind(sde) -> str:
  """``'vpsde' | 'subvpsde' | 'vesde'`` for a `jaxgen.diffusion.sde` instance."""
  if isinstance(sde, sde_lib.SubVPSDE):
    return 'subvpsde'
  if isinstance(sde, sde_lib.VPSDE):
    return 'vpsde'
  if isinstance(sde, sde_lib.VESDE):
    return 'vesde'
  raise TypeError(f'unknown SDE {type(sde).__name__}')


def ddpm_sqrt_one_minus_alphabar(sde) -> jax.Array:
  """``[N]``: ``sqrt(1 - prod_{j<=i}(1 - beta_j))`` of DDPM's discrete chain (VP)."""
  return jnp.sqrt(1.0 - jnp.cumprod(1.0 - sde.discrete_betas))


def ddpm_sqrt_alphabar(sde) -> jax.Array:
  return jnp.sqrt(jnp.cumprod(1.0 - sde.discrete_betas))


def discrete_index(sde, t: jax.Array) -> jax.Array:
  """``round(t (N - 1) / T)`` as int32: the discrete step of time ``t``."""
  return jnp.clip(jnp.round(t * (sde.N - 1) / sde.T), 0, sde.N - 1).astype(jnp.int32)


def make_score_fn(sde, net_fn: NetFn, *, continuous: bool = True,
                  scale_by_sigma: bool = False) -> ScoreFn:
  """``score_fn(params, t, x, rng=None, train=False)`` from a raw network (module docstring): the
  one place a network output ``net_fn(params, x, labels, train, rng)`` becomes a score."""
  kind = sde_kind(sde)
  if kind == 'subvpsde' and not continuous:
    raise ValueError('sub-VP SDE is continuous only (no discrete chain)')

  def score_fn(params, t, x, rng=None, train=False):
    t = jnp.broadcast_to(jnp.asarray(t, jnp.float32), x.shape[:1])
    if kind in ('vpsde', 'subvpsde'):
      if continuous:
        labels, std = t * 999.0, sde.sigma(t)
      else:
        i = discrete_index(sde, t)
        labels, std = i.astype(jnp.float32), ddpm_sqrt_one_minus_alphabar(sde)[i]
      out = net_fn(params, x, labels, train, rng)
      return -out / bcast(std, x)
    sig = sde.sigma(t) if continuous else sde.discrete_sigmas[discrete_index(sde, t)]
    out = net_fn(params, x, sig, train, rng)
    return out / bcast(sig, x) if scale_by_sigma else out

  return score_fn


def _reduce(v: jax.Array, reduce_mean: bool) -> jax.Array:
  v = v.reshape(v.shape[0], -1)
  return jnp.mean(v, axis=-1) if reduce_mean else 0.5 * jnp.sum(v, axis=-1)


def dsm_loss(score_fn: ScoreFn, sde, params: Any, x: jax.Array, rng: jax.Array, *,
             train: bool = True, eps: float = 1e-5, reduce_mean: bool = True,
             likelihood_weighting: bool = False,
             importance_sampling: bool = False) -> tuple[jax.Array, jax.Array]:
  """Continuous denoising score matching with ``t ~ U(eps, T)``, or with the likelihood weighting's
  importance sampling of t (module docstring)."""
  if importance_sampling and not likelihood_weighting:
    raise ValueError('importance sampling of t needs likelihood weighting')
  rt, rz, rn = jax.random.split(rng, 3)
  b = x.shape[0]
  if importance_sampling:
    t = importance.sample_t(sde, rt, (b,), eps)
  else:
    t = jax.random.uniform(rt, (b,), minval=eps, maxval=sde.T)
  z = jax.random.normal(rz, x.shape, x.dtype)
  mean, std = sde.marginal_prob(x, t)
  xt = mean + bcast(std, x) * z
  score = score_fn(params, t, xt, rn, train)
  if importance_sampling:  # w g^2 ||s + z / sigma||^2, written without dividing by sigma
    z_norm = importance.normaliser(sde, eps) / (sde.T - eps)
    per = _reduce(jnp.square(score * bcast(std, x) + z), reduce_mean) * z_norm
  elif likelihood_weighting:
    _, g = sde.sde(jnp.zeros_like(x), t)
    per = _reduce(jnp.square(score + z / bcast(std, x)), reduce_mean) * g**2
  else:
    per = _reduce(jnp.square(score * bcast(std, x) + z), reduce_mean)
  return jnp.mean(per), per


def ddpm_loss(score_fn: ScoreFn, sde, params: Any, x: jax.Array, rng: jax.Array, *,
              train: bool = True, reduce_mean: bool = True) -> tuple[jax.Array, jax.Array]:
  """DDPM epsilon-prediction loss on the discrete VP chain (``i ~ U{0..N-1}``, ``t = i/(N-1)``)."""
  ri, rz, rn = jax.random.split(rng, 3)
  b = x.shape[0]
  i = jax.random.randint(ri, (b,), 0, sde.N)
  t = i.astype(jnp.float32) * sde.T / (sde.N - 1)
  z = jax.random.normal(rz, x.shape, x.dtype)
  a, s = ddpm_sqrt_alphabar(sde)[i], ddpm_sqrt_one_minus_alphabar(sde)[i]
  xt = bcast(a, x) * x + bcast(s, x) * z
  eps_hat = -bcast(s, x) * score_fn(params, t, xt, rn, train)
  per = _reduce(jnp.square(eps_hat - z), reduce_mean)
  return jnp.mean(per), per


def smld_loss(score_fn: ScoreFn, sde, params: Any, x: jax.Array, rng: jax.Array, *,
              train: bool = True, reduce_mean: bool = True) -> tuple[jax.Array, jax.Array]:
  """SMLD (NCSN) loss on the geometric sigma ladder, weighted by sigma_i^2 (VE, discrete)."""
  ri, rz, rn = jax.random.split(rng, 3)
  b = x.shape[0]
  i = jax.random.randint(ri, (b,), 0, sde.N)
  t = i.astype(jnp.float32) * sde.T / (sde.N - 1)
  sig = sde.discrete_sigmas[i]
  z = jax.random.normal(rz, x.shape, x.dtype)
  xt = x + bcast(sig, x) * z
  score = score_fn(params, t, xt, rn, train)
  target = -z / bcast(sig, x)
  per = _reduce(jnp.square(score - target), reduce_mean) * sig**2
  return jnp.mean(per), per


def get_loss(sde, *, continuous: bool, reduce_mean: bool, likelihood_weighting: bool = False,
             importance_sampling: bool = False,
             eps: float = 1e-5) -> Callable[..., tuple[jax.Array, jax.Array]]:
  """``loss(score_fn, params, x, rng, train=True)`` for the SDE and the config's choices."""
  kind = sde_kind(sde)
  if continuous:
    def loss(score_fn, params, x, rng, train=True):
      return dsm_loss(score_fn, sde, params, x, rng, train=train, eps=eps,
                      reduce_mean=reduce_mean, likelihood_weighting=likelihood_weighting,
                      importance_sampling=importance_sampling)
  elif likelihood_weighting or importance_sampling:
    raise ValueError('likelihood weighting and importance sampling need the continuous loss')
  elif kind == 'vpsde':
    def loss(score_fn, params, x, rng, train=True):
      return ddpm_loss(score_fn, sde, params, x, rng, train=train, reduce_mean=reduce_mean)
  elif kind == 'vesde':
    def loss(score_fn, params, x, rng, train=True):
      return smld_loss(score_fn, sde, params, x, rng, train=train, reduce_mean=reduce_mean)
  else:
    raise ValueError(f'no discrete loss for {kind}')
  return loss
