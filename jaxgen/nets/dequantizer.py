"""The variational dequantizer q(u | k) of Flow++ (Ho et al. 2019): a conditional flow on
[0, 1)^D for images ``[b, h, w, c]``.

With eps ~ N(0, I) of the image's shape and features h(k) of the integer image (a small conv
net of the levels scaled to [-1/2, 1/2]),

    z = g(eps; h)    (``steps`` affine checkerboard couplings of `jaxgen.nets.flow_coupling`,
                      alternating parity, each conditioned on h; tanh-bounded log-scales)
    u = sigmoid(z),
    log q(u | k) = log N(eps; 0, I) - log|det dg/deps| - sum_d log sigmoid'(z_d),

with log sigmoid'(z) = -softplus(z) - softplus(-z). In float32 sigmoid rounds to 1 for z > ~17:
u is clipped to the largest float below 1 (a set of measure ~0 under q), so u lies in [0, 1).
Fresh couplings are the identity (zero-initialised last layers), so a fresh q is
sigmoid(N(0, I)), not uniform. ``log_density(u, k)`` inverts the flow (for quadrature checks).
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgen.nets import flow_coupling

KINDS = ('uniform', 'variational')
BELOW_ONE = float(np.nextafter(np.float32(1), np.float32(0)))


def defaults() -> ml_collections.ConfigDict:
  """The ``dequantizer`` section: its kind and the conditional flow's size."""
  return ml_collections.ConfigDict(dict(
      kind='uniform',    # 'uniform' (u ~ U[0, 1)^D) | 'variational' (q(u | k), this module)
      steps=4,           # affine checkerboard couplings
      hidden=32,         # channels of the feature net and of each coupling net
  ))


def _log_normal(eps):
  return jnp.sum(-0.5 * jnp.square(eps) - 0.5 * math.log(2 * math.pi),
                 axis=tuple(range(1, eps.ndim)))


def _log_sigmoid_grad(z):
  return -jnp.sum(jax.nn.softplus(z) + jax.nn.softplus(-z), axis=tuple(range(1, z.ndim)))


class Dequantizer(nn.Module):
  """q(u | k) (module doc). ``levels``: the integer image ``[b, h, w, c]`` (float), ``num_levels``
  K its number of levels."""

  num_levels: int
  steps: int = 4
  hidden: int = 32

  def setup(self):
    self.features = [nn.Conv(self.hidden, (3, 3)), nn.Conv(self.hidden, (3, 3))]
    self.couplings = [flow_coupling.Coupling('checkerboard', k % 2, 'affine', 'tanh', self.hidden)
                      for k in range(self.steps)]

  def _context(self, levels):
    h = levels / max(self.num_levels - 1, 1) - 0.5
    return self.features[1](nn.relu(self.features[0](h)))

  def __call__(self, eps: jax.Array, levels: jax.Array):
    """``(u [b, h, w, c] in [0, 1), log q(u | k) [b] nats)`` for noise ``eps`` of that shape."""
    ctx, z, log_det = self._context(levels), eps, 0.0
    for layer in self.couplings:
      z, ld = layer(z, context=ctx)
      log_det = log_det + ld
    u = jnp.minimum(jax.nn.sigmoid(z), BELOW_ONE)
    return u, _log_normal(eps) - log_det - _log_sigmoid_grad(z)

  def log_density(self, u: jax.Array, levels: jax.Array):
    """[b] log q(u | k) in nats of ``u`` in (0, 1)^D (the inverse of ``__call__``)."""
    ctx, z = self._context(levels), jnp.log(u) - jnp.log1p(-u)
    eps, log_det = z, 0.0
    for layer in reversed(self.couplings):
      eps, ld = layer(eps, inverse=True, context=ctx)
      log_det = log_det + ld
    return _log_normal(eps) + log_det - _log_sigmoid_grad(z)


def build(section, num_levels: int) -> Dequantizer:
  """The `Dequantizer` of a ``dequantizer`` section (`defaults`) for data of K levels."""
  return Dequantizer(num_levels=int(num_levels), steps=int(section.steps),
                     hidden=int(section.hidden))


def init(module: Dequantizer, rng, levels):
  """q's parameters for integer images shaped like ``levels``."""
  return module.init(rng, jnp.zeros(levels.shape, jnp.float32), levels)['params']


def draw(module: Dequantizer, params, levels, rng):
  """``(u, log q(u | k) [b])``: one draw of q for the integer images ``levels``."""
  eps = jax.random.normal(rng, levels.shape, jnp.float32)
  return module.apply({'params': params}, eps, levels)
