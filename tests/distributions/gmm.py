"""Gaussian mixtures in closed form: the test oracle (analytic density, score, diffused laws).

A `GaussianMixture` is a pytree (usable as a jit argument or closed over) of

  weights: f32[k]        mixture weights (non-negative; normalised on construction by `make`)
  means:   f32[k, d]
  covs:    f32[k, d, d]  full covariances, or f32[k, d] diagonal variances (decided by ``ndim``)

Everything is closed form: ``log_prob``, ``sample``, ``score`` (= grad log p, by autodiff of the
closed-form log density) and ``diffuse(alpha, sigma)``, the law of ``x_t = alpha x0 + sigma z`` with
``x0 ~ self`` and ``z ~ N(0, I)`` independent, which is again a mixture with means ``alpha mu_j``
and covariances ``alpha^2 S_j + sigma^2 I``. With ``jaxgen.diffusion.sde`` marginals this gives the
exact score of any time-marginal of a VP / sub-VP / VE diffusion of a mixture:

    mix.diffuse(sde.alpha(t), sde.sigma(t)).score(x)   # VP, sub-VP
    mix.diffuse(1.0, sde.sigma(t)).score(x)            # VE (sigma(t) is its marginal std)

Inputs ``x`` are ``[b, d]`` (or ``[b, *shape]`` with prod(shape) = d, flattened internally).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

_LOG_2PI = math.log(2.0 * math.pi)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class GaussianMixture:
  """A k-component Gaussian mixture on R^d (see module docstring for shapes)."""

  weights: jax.Array
  means: jax.Array
  covs: jax.Array

  @classmethod
  def make(cls, weights, means, covs) -> 'GaussianMixture':
    """Builds a mixture, normalising ``weights`` and casting to float32.

    ``covs`` may be ``[k,d,d]`` (full), ``[k,d]`` (diagonal) or a scalar / ``[k]`` (isotropic,
    expanded to diagonal).
    """
    means = jnp.asarray(means, jnp.float32)
    k, d = means.shape
    weights = jnp.asarray(weights, jnp.float32)
    weights = jnp.broadcast_to(weights, (k,)) / jnp.sum(jnp.broadcast_to(weights, (k,)))
    covs = jnp.asarray(covs, jnp.float32)
    if covs.ndim == 0:
      covs = jnp.full((k, d), covs)
    elif covs.ndim == 1:
      covs = jnp.broadcast_to(covs[:, None], (k, d))
    if covs.shape not in ((k, d), (k, d, d)):
      raise ValueError(f'covs shape {covs.shape} does not fit means {means.shape}')
    return cls(weights, means, covs)

  @property
  def dim(self) -> int:
    return self.means.shape[-1]

  @property
  def num_components(self) -> int:
    return self.means.shape[0]

  @property
  def diagonal(self) -> bool:
    return self.covs.ndim == 2

  def full_covs(self) -> jax.Array:
    """Covariances as ``[k, d, d]``."""
    if self.diagonal:
      return jax.vmap(jnp.diag)(self.covs)
    return self.covs

  # -- density --------------------------------------------------------------------------------
  def component_log_probs(self, x: jax.Array) -> jax.Array:
    """``[b, k]``: log N(x; mu_j, S_j) + log w_j for every example and component."""
    x = x.reshape(x.shape[0], -1)
    diff = x[:, None, :] - self.means[None]  # [b, k, d]
    d = self.dim
    if self.diagonal:
      maha = jnp.sum(diff**2 / self.covs[None], axis=-1)
      logdet = jnp.sum(jnp.log(self.covs), axis=-1)
    else:
      chol = jnp.linalg.cholesky(self.covs)  # [k, d, d]
      sol = jax.vmap(
          lambda L, r: jax.scipy.linalg.solve_triangular(L, r.T, lower=True).T,
          in_axes=(0, 1), out_axes=1)(chol, diff)  # [b, k, d]
      maha = jnp.sum(sol**2, axis=-1)
      logdet = 2.0 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)
    return jnp.log(self.weights)[None] - 0.5 * (maha + logdet[None] + d * _LOG_2PI)

  def log_prob(self, x: jax.Array) -> jax.Array:
    """``[b]`` log-density in nats of ``x: [b, d]`` (or ``[b, *shape]``)."""
    return jax.scipy.special.logsumexp(self.component_log_probs(x), axis=-1)

  def score(self, x: jax.Array) -> jax.Array:
    """``grad_x log p(x)``, same shape as ``x`` (autodiff of the closed-form density)."""
    shape = x.shape
    g = jax.grad(lambda y: jnp.sum(self.log_prob(y)))(x.reshape(shape[0], -1))
    return g.reshape(shape)

  # -- sampling and moments ------------------------------------------------------------------
  def sample(self, rng: jax.Array, n: int) -> jax.Array:
    """``[n, d]`` exact samples (component by categorical draw, then Gaussian)."""
    rc, rz = jax.random.split(rng)
    comp = jax.random.categorical(rc, jnp.log(self.weights), shape=(n,))
    z = jax.random.normal(rz, (n, self.dim))
    if self.diagonal:
      return self.means[comp] + jnp.sqrt(self.covs[comp]) * z
    chol = jnp.linalg.cholesky(self.covs)
    return self.means[comp] + jnp.einsum('nij,nj->ni', chol[comp], z)

  def mean(self) -> jax.Array:
    """``[d]`` mixture mean."""
    return jnp.einsum('k,kd->d', self.weights, self.means)

  def covariance(self) -> jax.Array:
    """``[d, d]`` mixture covariance (law of total covariance)."""
    m = self.mean()
    dm = self.means - m
    return (jnp.einsum('k,kij->ij', self.weights, self.full_covs())
            + jnp.einsum('k,ki,kj->ij', self.weights, dm, dm))

  # -- diffusion ------------------------------------------------------------------------------
  def diffuse(self, alpha, sigma) -> 'GaussianMixture':
    """Law of ``alpha x0 + sigma z``: means ``alpha mu``, covs ``alpha^2 S + sigma^2 I``.

    ``alpha`` and ``sigma`` are scalars (python or 0-d arrays; traced values are fine).
    """
    alpha = jnp.asarray(alpha, jnp.float32)
    sigma = jnp.asarray(sigma, jnp.float32)
    if self.diagonal:
      covs = alpha**2 * self.covs + sigma**2
    else:
      covs = alpha**2 * self.covs + sigma**2 * jnp.eye(self.dim)
    return GaussianMixture(self.weights, alpha * self.means, covs)


def _diffused_parts(mix: GaussianMixture, alpha, sigma, x):
  """Shared closed form for per-example ``alpha, sigma: [b]``.

  With ``S_j = U_j diag(lam_j) U_j^T`` (eigh, once), ``alpha^2 S_j + sigma^2 I = U_j diag(alpha^2
  lam_j + sigma^2) U_j^T``: no per-example factorization. Returns (component log-probs [b, k],
  whitened residuals y / var [b, k, d] in the eigenbasis, U [k, d, d]).
  """
  xf = x.reshape(x.shape[0], -1)
  b = xf.shape[0]
  alpha = jnp.broadcast_to(jnp.asarray(alpha, jnp.float32), (b,))
  sigma = jnp.broadcast_to(jnp.asarray(sigma, jnp.float32), (b,))
  if mix.diagonal:
    lam = mix.covs
    u = jnp.broadcast_to(jnp.eye(mix.dim), (mix.num_components, mix.dim, mix.dim))
  else:
    lam, u = jnp.linalg.eigh(mix.covs)  # [k, d], [k, d, d]
  var = alpha[:, None, None]**2 * lam[None] + sigma[:, None, None]**2  # [b, k, d]
  diff = xf[:, None, :] - alpha[:, None, None] * mix.means[None]  # [b, k, d]
  y = jnp.einsum('kdi,bkd->bki', u, diff)  # coordinates in the eigenbasis
  comp = (jnp.log(mix.weights)[None] - 0.5 * jnp.sum(y**2 / var + jnp.log(var), -1)
          - 0.5 * mix.dim * _LOG_2PI)
  return comp, y / var, u


def diffused_score(mix: GaussianMixture, alpha: jax.Array, sigma: jax.Array,
                   x: jax.Array) -> jax.Array:
  """Exact score of the diffused mixture with PER-EXAMPLE ``alpha, sigma: [b]`` at ``x: [b, ...]``.

  Closed form ``-sum_j r_j(x) (alpha^2 S_j + sigma^2 I)^{-1} (x - alpha mu_j)`` with
  responsibilities ``r_j``. Wrap it as a ``score_fn(t, x)`` (t: [b]) with the SDE's alpha(t),
  sigma(t).
  """
  comp, w, u = _diffused_parts(mix, alpha, sigma, x)
  r = jax.nn.softmax(comp, axis=-1)  # [b, k]
  g = -jnp.einsum('bk,kdi,bki->bd', r, u, w)
  return g.reshape(x.shape)


def diffused_log_prob(mix: GaussianMixture, alpha: jax.Array, sigma: jax.Array,
                      x: jax.Array) -> jax.Array:
  """``[b]`` log-density of the diffused mixture with per-example ``alpha, sigma: [b]``."""
  comp, _, _ = _diffused_parts(mix, alpha, sigma, x)
  return jax.scipy.special.logsumexp(comp, axis=-1)


def example_2d() -> GaussianMixture:
  """A fixed 3-component, full-covariance 2-D mixture used across tests."""
  return GaussianMixture.make(
      weights=[0.5, 0.3, 0.2],
      means=[[-1.0, 0.5], [1.5, 1.0], [0.5, -1.5]],
      covs=[[[0.30, 0.10], [0.10, 0.20]],
            [[0.10, -0.05], [-0.05, 0.25]],
            [[0.20, 0.0], [0.0, 0.05]]])


def reference(target: GaussianMixture, n: int, projections: int = 64):
  """What a test of n samples of ``target`` compares against: ``(mean, covariance, se_cov, sw,
  sw_bound)``. ``se_cov`` is the standard error of each covariance entry from n samples (4th
  moments from 20000 exact draws); ``sw(x)`` the sliced Wasserstein distance (``projections``
  fixed projections) of x to an independent exact sample of n, and ``sw_bound`` the mean + 4 std
  of that statistic between two exact samples (8 draws)."""
  from jaxgen.metrics.sliced_wasserstein import sliced_wasserstein

  proj = jax.random.PRNGKey(123)
  big = jax.device_get(target.sample(jax.random.PRNGKey(7), 20_000))
  m, c = jax.device_get(target.mean()), jax.device_get(target.covariance())
  prod = (big - m)[:, :, None] * (big - m)[:, None, :]
  se_c = prod.reshape(len(big), -1).std(0).reshape(2, 2) / math.sqrt(n)
  ref = target.sample(jax.random.PRNGKey(8), n)
  sw = jax.jit(lambda a: sliced_wasserstein(proj, a, ref, num_projections=projections))
  null = jax.device_get(jax.jit(jax.vmap(
      lambda r: sliced_wasserstein(proj, target.sample(r, n), ref, num_projections=projections)))(
          jax.random.split(jax.random.PRNGKey(100), 8)))
  return m, c, se_c, sw, null.mean() + 4 * null.std()
