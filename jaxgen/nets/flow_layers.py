"""The invertible layers of multi-scale image flows that are not couplings (RealNVP, Glow).

One convention for every layer here and in `jaxgen.nets.flow_coupling`: a flax module called as

    layer(x)               -> (y, log_det)    y = f(x),      log_det = log|det df/dx|    [b]
    layer(y, inverse=True) -> (x, log_det)    x = f^-1(y),   log_det = log|det df^-1/dy| [b]

on images ``[b, h, w, c]``; "forward" maps the data side to the latent side, and the inverse's
log-det is minus the forward one at the same point, so a flow's exact log-density is
``log p(x) = log N(f(x)) + sum of the forward log-dets`` and a draw ``x = f^-1(eps)`` has
``log p(x) = log N(eps) - sum of the inverse log-dets`` (the form a dequantizer q(u | x) needs).
Log-dets are natural logarithms (nats). Parameters of data-dependent layers are set by
``init`` on the forward pass, so initialise a flow on a batch of data, not on latents.

Layers: `ActNorm` (Glow's per-channel affine, data-dependent init), `InvConv1x1` (plain or
LU-parametrised), `Permute` (reverse / fixed shuffle of channels), `Squeeze` (space-to-depth 2x2)
and `Logit` (the map of bounded data to R used by RealNVP).
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

PERMUTATIONS = ('invconv', 'invconv_lu', 'reverse', 'shuffle')


def _pixels(x: jax.Array) -> int:
  """h * w: how many times a per-channel map is applied to one example."""
  return int(np.prod(x.shape[1:-1]))


def _per_example(value, x: jax.Array) -> jax.Array:
  """A log-det that is the same for every example, as ``[b]``."""
  return jnp.full((x.shape[0],), value, x.dtype)


class ActNorm(nn.Module):
  """y = (x + loc) * exp(log_scale) per channel; log_det = h w sum(log_scale) (Glow, sec. 3.1).

  Data-dependent initialisation: on the ``init`` batch, ``loc = -mean`` and ``log_scale =
  -log(std + eps)`` per channel (over batch and pixels), so that batch's output has zero mean and
  unit variance per channel. Afterwards both are ordinary parameters.
  """

  eps: float = 1e-6

  @nn.compact
  def __call__(self, x: jax.Array, inverse: bool = False):
    axes = tuple(range(x.ndim - 1))
    loc = self.param('loc', lambda _: -jnp.mean(x, axes))
    log_scale = self.param('log_scale', lambda _: -jnp.log(jnp.std(x, axes) + self.eps))
    log_det = _per_example(_pixels(x) * jnp.sum(log_scale), x)
    if inverse:
      return x * jnp.exp(-log_scale) - loc, -log_det
    return (x + loc) * jnp.exp(log_scale), log_det


def _orthogonal(rs: np.random.RandomState, c: int) -> np.ndarray:
  """A random rotation (Q of the QR of a Gaussian matrix), Glow's initial 1x1 kernel."""
  return np.linalg.qr(rs.randn(c, c))[0].astype(np.float32)


class InvConv1x1(nn.Module):
  """y[..., i] = sum_j W[i, j] x[..., j] at every pixel (Glow, sec. 3.2); W starts as a rotation.

  ``lu=False``: W is the parameter; log_det = h w log|det W| (an O(c^3) slogdet).
  ``lu=True``: W = P L (U + diag(sign * exp(log_s))) with P and sign fixed at initialisation, L
  unit lower- and U strictly upper-triangular; log_det = h w sum(log_s), O(c). ``seed`` fixes the
  initial rotation (numpy), so P and sign are constants of the architecture, not parameters.
  """

  lu: bool = False
  seed: int = 0

  def _kernel(self, c: int) -> tuple[jax.Array, jax.Array]:
    """(W, log|det W|)."""
    w0 = _orthogonal(np.random.RandomState(self.seed), c)
    if not self.lu:
      w = self.param('kernel', lambda _: jnp.asarray(w0))
      return w, jnp.linalg.slogdet(w)[1]
    p, l0, u0 = scipy.linalg.lu(w0)
    s0 = np.diag(u0)
    lower = np.tril(np.ones((c, c), np.float32), -1)
    l = self.param('lower', lambda _: jnp.asarray(l0 * lower, jnp.float32))
    u = self.param('upper', lambda _: jnp.asarray(u0 * lower.T, jnp.float32))
    log_s = self.param('log_s', lambda _: jnp.asarray(np.log(np.abs(s0)), jnp.float32))
    s = jnp.asarray(np.sign(s0), jnp.float32) * jnp.exp(log_s)
    w = (jnp.asarray(p, jnp.float32) @ (l * lower + jnp.eye(c))
         @ (u * lower.T + jnp.diag(s)))
    return w, jnp.sum(log_s)

  @nn.compact
  def __call__(self, x: jax.Array, inverse: bool = False):
    w, log_abs_det = self._kernel(x.shape[-1])
    log_det = _per_example(_pixels(x) * log_abs_det, x)
    if inverse:
      return jnp.einsum('...j,ij->...i', x, jnp.linalg.inv(w)), -log_det
    return jnp.einsum('...j,ij->...i', x, w), log_det


class Permute(nn.Module):
  """A fixed channel permutation: ``'reverse'`` (RealNVP's) or ``'shuffle'`` (a random order fixed
  by ``seed``), Glow's ablations of the 1x1 convolution; log_det = 0."""

  order: str = 'reverse'
  seed: int = 0

  @nn.compact
  def __call__(self, x: jax.Array, inverse: bool = False):
    c = x.shape[-1]
    if self.order == 'reverse':
      perm = np.arange(c)[::-1]
    elif self.order == 'shuffle':
      perm = np.random.RandomState(self.seed).permutation(c)
    else:
      raise ValueError(f"Permute order must be 'reverse' or 'shuffle', got {self.order!r}")
    return x[..., np.argsort(perm) if inverse else perm], _per_example(0.0, x)


def squeeze(x: jax.Array) -> jax.Array:
  """[b, h, w, c] -> [b, h/2, w/2, 4c]: each 2x2 block of pixels becomes 4c channels."""
  b, h, w, c = x.shape
  x = x.reshape(b, h // 2, 2, w // 2, 2, c).transpose(0, 1, 3, 5, 2, 4)
  return x.reshape(b, h // 2, w // 2, 4 * c)


def unsqueeze(x: jax.Array) -> jax.Array:
  """The inverse of `squeeze`."""
  b, h, w, c4 = x.shape
  c = c4 // 4
  x = x.reshape(b, h, w, c, 2, 2).transpose(0, 1, 4, 2, 5, 3)
  return x.reshape(b, 2 * h, 2 * w, c)


class Squeeze(nn.Module):
  """`squeeze` as a layer (a permutation of coordinates: log_det = 0); sides must be even."""

  @nn.compact
  def __call__(self, x: jax.Array, inverse: bool = False):
    return (unsqueeze(x) if inverse else squeeze(x)), _per_example(0.0, x)


class Logit(nn.Module):
  """y = logit(alpha + (1 - 2 alpha) (x - low) / (high - low)) elementwise (RealNVP, sec. 4.1):
  data in [low, high] to R, with ``alpha`` keeping the ends finite. Per element, log|dy/dx| =
  log(1 - 2 alpha) - log(high - low) - log p - log(1 - p), p the argument of the logit."""

  alpha: float = 0.05
  low: float = 0.0
  high: float = 1.0

  def _log_det(self, p: jax.Array) -> jax.Array:
    const = math.log(1 - 2 * self.alpha) - math.log(self.high - self.low)
    per = const - jnp.log(p) - jnp.log1p(-p)
    return jnp.sum(per.reshape(p.shape[0], -1), axis=-1)

  @nn.compact
  def __call__(self, x: jax.Array, inverse: bool = False):
    a, width = self.alpha, self.high - self.low
    if inverse:
      p = jax.nn.sigmoid(x)
      return self.low + width * (p - a) / (1 - 2 * a), -self._log_det(p)
    p = a + (1 - 2 * a) * (x - self.low) / width
    return jnp.log(p) - jnp.log1p(-p), self._log_det(p)
