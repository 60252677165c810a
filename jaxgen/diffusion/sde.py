"""Forward SDEs of score-based generative modelling (Song et al., ICLR 2021), in JAX.

Conventions (the score-SDE convention, opposite to rectified flow's):

* Time ``t`` runs over ``[0, T]`` with ``T = 1``: **t = 0 is data, t = T is noise**. Sampling
  integrates from ``T`` down to ``eps`` (1e-3 for VP / sub-VP, 1e-5 for VE, as in the reference).
* The forward SDE is ``dx = f(x, t) dt + g(t) dW``; ``sde(x, t)`` returns ``(f, g)`` with ``f`` the
  shape of ``x`` and ``g`` of shape ``[b]``.
* ``x`` is a batch ``[b, *shape]``; ``t`` is a scalar or ``[b]`` (broadcast to ``[b]``).
  Every per-example coefficient returned (``std``, ``g``, ``G``, ...) has shape ``[b]``.
* Marginals are Gaussian: ``x_t = alpha(t) x_0 + sigma(t) z`` with ``z ~ N(0, I)``:
    VP:     alpha = exp(-B/2), sigma = sqrt(1 - exp(-B)),  B(t) = b0 t + (b1 - b0) t^2 / 2
    sub-VP: alpha = exp(-B/2), sigma = 1 - exp(-B)
    VE:     alpha = 1,         sigma = sigma_min (sigma_max / sigma_min)^t
  (the reference's VE marginal ignores the variance at t = 0, sigma_min^2, and so do we).
* ``log_snr(t) = log(alpha^2 / sigma^2)`` is strictly decreasing in t; ``t_from_log_snr`` is its
  closed-form inverse (used by DPM-Solver to place steps uniformly in log-SNR).
* ``score_fn(x, t) -> grad_x log p_t(x)`` takes ``x: [b, *shape]`` and ``t: [b]``.
* ``discretize(x, t) -> (f, G)`` is the discrete-time chain ``x_{i+1} = x_i + f + G z`` of the
  reference (DDPM for VP, SMLD for VE, Euler-Maruyama with dt = T/N for sub-VP), indexed by
  ``i = int(t (N - 1) / T)``.
* ``reverse(score_fn, probability_flow)`` gives the reverse-time SDE
  ``dx = [f - g^2 score (x 1/2 if probability_flow)] dt + g dW_bar`` (g = 0 if probability_flow),
  to be integrated with NEGATIVE dt (from T to 0); its ``discretize`` gives the reverse-diffusion
  predictor ``x_{i-1} = x_i - f_rev + G_rev z``.
* ``pf_ode(score_fn)`` returns ``velocity(t, x) = f - g^2 score / 2`` (dx/dt of the probability-flow
  ODE in forward time): integrate it from T to eps to sample, from eps to T for likelihoods.

The classes are frozen dataclasses with static (Python float/int) hyperparameters, so they are
hashable and can be closed over by jitted functions.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import jax
import jax.numpy as jnp

ScoreFn = Callable[[jax.Array, jax.Array], jax.Array]


def bcast(v: jax.Array, x: jax.Array) -> jax.Array:
  """Reshapes a per-example ``[b]`` (or scalar) array to broadcast against ``x: [b, ...]``."""
  v = jnp.asarray(v)
  if v.ndim == 0:
    return v
  return v.reshape(v.shape + (1,) * (x.ndim - v.ndim))


def _batch_t(x: jax.Array, t) -> jax.Array:
  return jnp.broadcast_to(jnp.asarray(t, jnp.float32), (x.shape[0],))


def _standard_normal_logp(z: jax.Array, scale: float) -> jax.Array:
  d = math.prod(z.shape[1:])
  zz = jnp.sum(z.reshape(z.shape[0], -1)**2, axis=-1)
  return -0.5 * d * math.log(2 * math.pi * scale**2) - 0.5 * zz / scale**2


class _SDE:
  """Shared methods; subclasses define ``sde``, ``alpha``, ``sigma`` and ``discretize``."""

  T = 1.0

  # -- marginals -------------------------------------------------------------------------------
  def alpha(self, t):
    raise NotImplementedError

  def sigma(self, t):
    raise NotImplementedError

  def marginal_prob(self, x0: jax.Array, t) -> tuple[jax.Array, jax.Array]:
    """``(mean, std)`` of ``x_t | x_0``: mean like ``x0``, std ``[b]``."""
    t = _batch_t(x0, t)
    return bcast(self.alpha(t), x0) * x0, self.sigma(t)

  def log_snr(self, t):
    """``log(alpha(t)^2 / sigma(t)^2)``, decreasing in ``t`` (any shape)."""
    return 2.0 * (jnp.log(self.alpha(t)) - jnp.log(self.sigma(t)))

  # -- prior -----------------------------------------------------------------------------------
  @property
  def prior_std(self) -> float:
    return 1.0

  def prior_sample(self, rng: jax.Array, shape) -> jax.Array:
    """Samples of the prior p_T, ``shape = (b, *data_shape)``."""
    return self.prior_std * jax.random.normal(rng, tuple(shape))

  def prior_logp(self, z: jax.Array) -> jax.Array:
    """``[b]`` log-density (nats) of the prior N(0, prior_std^2 I) at ``z: [b, ...]``."""
    return _standard_normal_logp(z, self.prior_std)

  # -- reverse time ----------------------------------------------------------------------------
  def reverse(self, score_fn: ScoreFn, probability_flow: bool = False) -> 'ReverseSDE':
    """The reverse-time SDE (or its probability-flow ODE), see module docstring."""
    return ReverseSDE(self, score_fn, probability_flow)

  def pf_ode(self, score_fn: ScoreFn) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """``velocity(t, x) = f(x, t) - g(t)^2 score(x, t) / 2``; ``t`` scalar or ``[b]``."""

    def velocity(t, x):
      t = _batch_t(x, t)
      drift, diffusion = self.sde(x, t)
      return drift - 0.5 * bcast(diffusion**2, x) * score_fn(x, t)

    return velocity

  def score_from_noise(self, eps_fn: Callable) -> ScoreFn:
    """Score from a noise prediction ``eps(x, t)``: ``score = -eps / sigma(t)``."""
    return lambda x, t: -eps_fn(x, t) / bcast(self.sigma(_batch_t(x, t)), x)

  def noise_from_score(self, score_fn: ScoreFn) -> Callable:
    """Noise prediction from a score: ``eps = -sigma(t) score``."""
    return lambda x, t: -bcast(self.sigma(_batch_t(x, t)), x) * score_fn(x, t)

  def _index(self, t):
    return (t * (self.N - 1) / self.T).astype(jnp.int32)


@dataclasses.dataclass(frozen=True)
class VPSDE(_SDE):
  """Variance-preserving SDE ``dx = -beta(t) x / 2 dt + sqrt(beta(t)) dW``, beta linear in t.

  ``beta(t) = beta_min + t (beta_max - beta_min)``; discrete chain = DDPM with
  ``betas = linspace(beta_min / N, beta_max / N, N)``.
  """

  beta_min: float = 0.1
  beta_max: float = 20.0
  N: int = 1000
  eps: float = 1e-3

  def beta(self, t):
    return self.beta_min + t * (self.beta_max - self.beta_min)

  def int_beta(self, t):
    """``B(t) = int_0^t beta``."""
    return self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t**2

  def sde(self, x, t):
    t = _batch_t(x, t)
    beta = self.beta(t)
    return -0.5 * bcast(beta, x) * x, jnp.sqrt(beta)

  def alpha(self, t):
    return jnp.exp(-0.5 * self.int_beta(t))

  def sigma(self, t):
    return jnp.sqrt(-jnp.expm1(-self.int_beta(t)))

  def log_snr(self, t):
    # alpha^2 / sigma^2 = 1 / (exp(B) - 1)
    return -jnp.log(jnp.expm1(self.int_beta(t)))

  def _t_from_int_beta(self, b):
    # Stable root of beta_min t + (beta_max - beta_min) t^2 / 2 = b.
    d = self.beta_max - self.beta_min
    return 2.0 * b / (self.beta_min + jnp.sqrt(self.beta_min**2 + 2.0 * d * b))

  def t_from_log_snr(self, lam):
    """Inverse of ``log_snr``: ``B = softplus(-lam)``, then the root of the quadratic B(t)."""
    return self._t_from_int_beta(jax.nn.softplus(-lam))

  @property
  def discrete_betas(self):
    return jnp.linspace(self.beta_min / self.N, self.beta_max / self.N, self.N)

  def discretize(self, x, t):
    """DDPM step ``x_{i+1} = sqrt(1 - beta_i) x_i + sqrt(beta_i) z`` as ``(f, G[b])``."""
    t = _batch_t(x, t)
    beta = self.discrete_betas[self._index(t)]
    f = bcast(jnp.sqrt(1.0 - beta), x) * x - x
    return f, jnp.sqrt(beta)


@dataclasses.dataclass(frozen=True)
class SubVPSDE(VPSDE):
  """Sub-VP SDE ``dx = -beta x / 2 dt + sqrt(beta (1 - exp(-2 B(t)))) dW``.

  Marginal std ``1 - exp(-B)`` (below VP's); discretized by Euler-Maruyama (dt = T / N) as in
  the reference.
  """

  def sde(self, x, t):
    t = _batch_t(x, t)
    beta = self.beta(t)
    g2 = beta * -jnp.expm1(-2.0 * self.int_beta(t))
    return -0.5 * bcast(beta, x) * x, jnp.sqrt(g2)

  def sigma(self, t):
    return -jnp.expm1(-self.int_beta(t))

  def log_snr(self, t):
    b = self.int_beta(t)
    return -b - 2.0 * jnp.log(-jnp.expm1(-b))

  def t_from_log_snr(self, lam):
    """Inverse of ``log_snr``: with u = exp(-B), s = exp(-lam): u / (1 - u)^2 = 1 / s, so
    ``u = 2 / (2 + s + sqrt(s^2 + 4 s))`` (the root in (0, 1), written without cancellation)."""
    s = jnp.exp(-lam)
    b = jnp.log1p(0.5 * (s + jnp.sqrt(s * s + 4.0 * s)))
    return self._t_from_int_beta(b)

  def discretize(self, x, t):
    """Euler-Maruyama: ``f = drift dt``, ``G = g sqrt(dt)``, dt = T / N."""
    dt = self.T / self.N
    drift, diffusion = self.sde(x, t)
    return drift * dt, diffusion * math.sqrt(dt)


@dataclasses.dataclass(frozen=True)
class VESDE(_SDE):
  """Variance-exploding SDE ``dx = sigma(t) sqrt(2 log(sigma_max / sigma_min)) dW``.

  ``sigma(t) = sigma_min (sigma_max / sigma_min)^t``; drift 0, alpha = 1. Discrete chain = SMLD
  with geometric sigmas and ``G_i = sqrt(sigma_i^2 - sigma_{i-1}^2)`` (sigma_{-1} = 0).
  """

  sigma_min: float = 0.01
  sigma_max: float = 50.0
  N: int = 1000
  eps: float = 1e-5

  @property
  def prior_std(self) -> float:
    return self.sigma_max

  def sde(self, x, t):
    t = _batch_t(x, t)
    g = self.sigma(t) * math.sqrt(2.0 * math.log(self.sigma_max / self.sigma_min))
    return jnp.zeros_like(x), g

  def alpha(self, t):
    return jnp.ones_like(jnp.asarray(t, jnp.float32))

  def sigma(self, t):
    return self.sigma_min * (self.sigma_max / self.sigma_min)**jnp.asarray(t, jnp.float32)

  def log_snr(self, t):
    return -2.0 * jnp.log(self.sigma(t))

  def t_from_log_snr(self, lam):
    return (-0.5 * lam - math.log(self.sigma_min)) / math.log(self.sigma_max / self.sigma_min)

  def t_from_sigma(self, sigma):
    """Inverse of ``sigma(t)``."""
    return (jnp.log(sigma) - math.log(self.sigma_min)) / math.log(self.sigma_max / self.sigma_min)

  @property
  def discrete_sigmas(self):
    return jnp.exp(jnp.linspace(math.log(self.sigma_min), math.log(self.sigma_max), self.N))

  def discretize(self, x, t):
    """SMLD step ``x_{i+1} = x_i + sqrt(sigma_{i+1}^2 - sigma_i^2) z`` as ``(0, G[b])``."""
    t = _batch_t(x, t)
    i = self._index(t)
    sig = self.discrete_sigmas[i]
    prev = jnp.where(i == 0, 0.0, self.discrete_sigmas[jnp.maximum(i - 1, 0)])
    return jnp.zeros_like(x), jnp.sqrt(sig**2 - prev**2)


@dataclasses.dataclass(frozen=True)
class ReverseSDE:
  """Reverse-time SDE of ``forward`` given ``score_fn`` (integrate with negative dt, T -> 0).

  ``sde(x, t) -> (f - g^2 score * (1/2 if probability_flow else 1), 0 if probability_flow else g)``
  ``discretize(x, t) -> (f_i - G_i^2 score * (...), G_i or 0)``: the reverse-diffusion predictor
  is ``x <- x - f_rev + G_rev z``.
  """

  forward: _SDE
  score_fn: ScoreFn
  probability_flow: bool = False

  @property
  def T(self):
    return self.forward.T

  @property
  def N(self):
    return self.forward.N

  def sde(self, x, t):
    t = _batch_t(x, t)
    drift, diffusion = self.forward.sde(x, t)
    w = 0.5 if self.probability_flow else 1.0
    drift = drift - w * bcast(diffusion**2, x) * self.score_fn(x, t)
    return drift, (jnp.zeros_like(diffusion) if self.probability_flow else diffusion)

  def discretize(self, x, t):
    t = _batch_t(x, t)
    f, G = self.forward.discretize(x, t)
    w = 0.5 if self.probability_flow else 1.0
    f = f - w * bcast(G**2, x) * self.score_fn(x, t)
    return f, (jnp.zeros_like(G) if self.probability_flow else G)


def euler_maruyama_reverse(sde: _SDE, score_fn: ScoreFn, rng: jax.Array, shape, steps: int,
                           t_end: float | None = None) -> tuple[jax.Array, dict]:
  """Samples by Euler-Maruyama on the reverse SDE from ``T`` to ``t_end`` (default ``sde.eps``).

  ``steps`` uniform steps; the last step is noise-free (returns the mean, as the reference's
  predictors do). Returns ``(x, {'nfe': steps})``. Jit-compatible (``lax.scan``).
  """
  t_end = sde.eps if t_end is None else t_end
  rsde = sde.reverse(score_fn)
  rng, r0 = jax.random.split(rng)
  x = sde.prior_sample(r0, shape)
  ts = jnp.linspace(sde.T, t_end, steps + 1)
  keys = jax.random.split(rng, steps)

  def body(x, inp):
    i, key = inp
    t, dt = ts[i], ts[i + 1] - ts[i]  # dt < 0
    drift, g = rsde.sde(x, t)
    mean = x + drift * dt
    z = jax.random.normal(key, x.shape)
    noise = bcast(g, x) * jnp.sqrt(-dt) * z
    return jnp.where(i == steps - 1, mean, mean + noise), None

  x, _ = jax.lax.scan(body, x, (jnp.arange(steps), keys))
  return x, {'nfe': jnp.asarray(steps, jnp.int32)}


def get(name: str, **kwargs) -> _SDE:
  """``'vp' | 'subvp' | 've'`` -> SDE instance (kwargs passed to the dataclass)."""
  table = {'vp': VPSDE, 'vpsde': VPSDE, 'subvp': SubVPSDE, 'subvpsde': SubVPSDE,
           've': VESDE, 'vesde': VESDE}
  key = name.lower().replace('-', '').replace('_', '')
  if key not in table:
    raise ValueError(f'unknown sde {name!r}; use one of vp, subvp, ve')
  return table[key](**kwargs)
