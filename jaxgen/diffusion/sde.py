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
* Functions passed in and out take **(t, x)**, the ODE order of `jaxgen.ode`: ``score_fn(t, x) ->
  grad_x log p_t(x)``, ``eps_fn(t, x)`` (noise prediction), ``velocity(t, x)``; ``t`` is ``[b]``
  here (a scalar is broadcast by the samplers). The SDE's own coefficient methods keep the
  reference's ``(x, t)`` order: ``sde(x, t)``, ``discretize(x, t)``, ``marginal_prob(x0, t)``.
* ``discretize(x, t) -> (f, G)`` is the discrete-time chain ``x_{i+1} = x_i + f + G z`` of the
  reference (DDPM for VP, SMLD for VE, Euler-Maruyama with dt = T/N for sub-VP), indexed by
  ``i = int(t (N - 1) / T)``. ``transition(s, t) -> (a, v)`` is the exact forward transition
  between any two times ``s < t``: ``x_t = a x_s + sqrt(v) z``.
* ``reverse(score_fn, probability_flow)`` gives the reverse-time SDE
  ``dx = [f - g^2 score (x 1/2 if probability_flow)] dt + g dW_bar`` (g = 0 if probability_flow),
  to be integrated with NEGATIVE dt (from T to 0); its ``discretize`` gives the reverse-diffusion
  step ``x_s = x_t - f_rev + G_rev z``. The PC predictors (`jaxgen.diffusion.pc`) are written on it.
* ``tweedie(score_fn, t, x)`` is the posterior mean ``E[x_0 | x_t]`` (the denoising step of the
  samplers).
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

from jaxgen.distributions import normal

ScoreFn = Callable[[jax.Array, jax.Array], jax.Array]


def bcast(v: jax.Array, x: jax.Array) -> jax.Array:
  """Reshapes a per-example ``[b]`` (or scalar) array to broadcast against ``x: [b, ...]``."""
  v = jnp.asarray(v)
  if v.ndim == 0:
    return v
  return v.reshape(v.shape + (1,) * (x.ndim - v.ndim))


def _batch_t(x: jax.Array, t) -> jax.Array:
  return jnp.broadcast_to(jnp.asarray(t, jnp.float32), (x.shape[0],))


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
    return normal.standard_normal_logp(z, self.prior_std)

  # -- reverse time ----------------------------------------------------------------------------
  def reverse(self, score_fn: ScoreFn, probability_flow: bool = False) -> 'ReverseSDE':
    """The reverse-time SDE (or its probability-flow ODE), see module docstring."""
    return ReverseSDE(self, score_fn, probability_flow)

  def pf_ode(self, score_fn: ScoreFn) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """``velocity(t, x) = f(x, t) - g(t)^2 score(t, x) / 2``; ``t`` scalar or ``[b]``."""
    return lambda t, x: self.reverse(score_fn, probability_flow=True).sde(x, t)[0]

  def score_from_noise(self, eps_fn: Callable) -> ScoreFn:
    """Score from a noise prediction ``eps_fn(t, x)``: ``score = -eps / sigma(t)``."""
    def score_fn(t, x):
      t = _batch_t(x, t)
      return -eps_fn(t, x) / bcast(self.sigma(t), x)
    return score_fn

  def noise_from_score(self, score_fn: ScoreFn) -> Callable:
    """Noise prediction ``eps_fn(t, x) = -sigma(t) score(t, x)``."""
    def eps_fn(t, x):
      t = _batch_t(x, t)
      return -bcast(self.sigma(t), x) * score_fn(t, x)
    return eps_fn

  def tweedie(self, score_fn: ScoreFn, t, x: jax.Array) -> jax.Array:
    """Tweedie's denoiser ``E[x_0 | x_t = x] = (x + sigma(t)^2 score(t, x)) / alpha(t)``; ``t``
    scalar or ``[b]`` (one score evaluation)."""
    t = _batch_t(x, t)
    return (x + bcast(self.sigma(t)**2, x) * score_fn(t, x)) / bcast(self.alpha(t), x)

  def transition(self, s, t) -> tuple[jax.Array, jax.Array]:
    """``(a, v)`` with ``x_t = a x_s + sqrt(v) z``: the exact forward transition from ``s`` to
    ``t > s`` of the linear SDE (``a = alpha_t / alpha_s``, ``v = sigma_t^2 - a^2 sigma_s^2``)."""
    a = self.alpha(t) / self.alpha(s)
    v = jnp.maximum(self.sigma(t)**2 - a**2 * self.sigma(s)**2, 0.0)
    return a, v

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
  """Reverse-time SDE of ``forward`` given ``score_fn(t, x)`` (integrate with negative dt, T -> 0).

  ``sde(x, t) -> (f - w g^2 score, g or 0)`` and ``discretize(x, t, s=None) -> (f_i - w G_i^2
  score, G_i or 0)`` with ``w = 1/2, noise 0`` if ``probability_flow`` else ``w = 1``. The
  reverse-diffusion step is ``x_s = x_t - f_rev + G_rev z``; ``(f_i, G_i)`` is the forward chain's
  step at ``t`` (``s=None``, the reference's N-step chain) or the exact forward transition from
  ``s`` to ``t`` (``f_i = (a - 1) x``, ``G_i^2 = v``, see `_SDE.transition`).
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

  def _reverse(self, x, t, f, g):
    w = 0.5 if self.probability_flow else 1.0
    f = f - w * bcast(g**2, x) * self.score_fn(t, x)
    return f, (jnp.zeros_like(g) if self.probability_flow else g)

  def sde(self, x, t):
    t = _batch_t(x, t)
    return self._reverse(x, t, *self.forward.sde(x, t))

  def discretize(self, x, t, s=None):
    t = _batch_t(x, t)
    if s is None:
      return self._reverse(x, t, *self.forward.discretize(x, t))
    a, v = self.forward.transition(s, t)
    f = bcast(a - 1.0, x) * x
    return self._reverse(x, t, f, jnp.broadcast_to(jnp.sqrt(v), t.shape))
