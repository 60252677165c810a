"""NADE: the weight-shared autoregressive network of Larochelle & Murray (2011).

In the natural order x_1, ..., x_D (inputs x_d as floats), one hidden layer of H sigmoid units is
shared by all conditionals:

    a_1 = c,   a_{d+1} = a_d + W[d] x_d,   h_d = sigmoid(a_d),
    output d = b_d + h_d V_d                (V_d [H, per_dim]: a Bernoulli logit or K logits)

so output d depends on x_<d only and all D outputs cost O(D H): the running pre-activation is an
exclusive cumulative sum over the dimensions. The sampler walks the same recursion one dimension
at a time (`start`, `output`, `advance`): O(H) per conditional, no full network evaluation.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


class NADE(nn.Module):
  """x [b, D] -> per-dimension outputs [b, D, per_dim] (`__call__`) and the recursion's steps.

  Attributes:
    dim: D.
    hidden: H.
    per_dim: outputs per dimension (1: Bernoulli logit; K: categorical logits).
  """

  dim: int
  hidden: int
  per_dim: int = 1

  def setup(self):
    init = nn.initializers.normal(0.01)
    self.w = self.param('w', init, (self.dim, self.hidden))
    self.c = self.param('c', nn.initializers.zeros, (self.hidden,))
    self.v = self.param('v', init, (self.dim, self.hidden, self.per_dim))
    self.b = self.param('b', nn.initializers.zeros, (self.dim, self.per_dim))

  def __call__(self, x: jax.Array) -> jax.Array:
    contrib = x[..., :, None] * self.w                       # [b, D, H]: W[d] x_d
    a = self.c + jnp.cumsum(contrib, axis=-2) - contrib      # exclusive: a_d sees x_<d
    return jnp.einsum('...dh,dhp->...dp', nn.sigmoid(a), self.v) + self.b

  def start(self, batch: int) -> jax.Array:
    """a_1 = c for `batch` draws: [batch, H]."""
    return jnp.broadcast_to(self.c, (batch, self.hidden))

  def output(self, a: jax.Array, d) -> jax.Array:
    """Output d [b, per_dim] from its pre-activation a_d [b, H]."""
    return nn.sigmoid(a) @ self.v[d] + self.b[d]

  def advance(self, a: jax.Array, d, xd: jax.Array) -> jax.Array:
    """a_{d+1} = a_d + W[d] x_d, with x_d [b] the value just drawn."""
    return a + xd[:, None] * self.w[d]
