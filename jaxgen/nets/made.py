"""MADE: masked dense layers whose connectivity makes an MLP autoregressive (Germain et al. 2015).

Degrees. Every unit carries a degree. Input d has degree m_0(d) = its position 1..D in the
ordering (the input generated first has degree 1); a hidden unit k of layer l has a degree
m_l(k) in [min m_{l-1}, D-1] (drawn uniformly, so the layer never narrows to units no output may
use); output d has the degree of input d. The connectivity masks follow (`masks`):

    hidden layer l:  M_l[k', k] = m_l(k) >= m_{l-1}(k')      (in x out)
    output layer:    M_out[k, d] = m_0(d) > m_L(k)           (strict)
    direct input->output:  M_direct[d', d] = m_0(d) > m_0(d')

so output d depends on input d' only through paths of non-decreasing degree that end strictly
below m_0(d): on inputs earlier in the ordering, never on itself or later ones. The input of
degree 1 has no parent (its output sees only the biases).

The mask maths (`order_degrees`, `draw_degrees`, `stacked_degrees`, `masks`) is plain numpy of a
seed, D, the hidden sizes and the ordering; `masks` also runs on jax arrays, so a model keeps the
small integer degrees of its mask set and builds the 0/1 masks inside a jitted step. The flax
module `MADE` takes the masks as an *input* of each call (never as parameters): one set of weights
serves every (ordering, connectivity) pair.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np


class Masks(NamedTuple):
  """The 0/1 masks of one MADE: ``hidden[l]`` [in, out] per hidden layer, ``out`` [H_L, D] and
  ``direct`` [D, D] (rows: inputs / units feeding, columns: units fed)."""

  hidden: tuple
  out: jax.Array
  direct: jax.Array


def order_degrees(order: np.ndarray) -> np.ndarray:
  """Input degrees m_0 [D] of an ordering: ``order[t]`` is the input generated at step t, so
  input ``order[t]`` gets degree t + 1."""
  order = np.asarray(order)
  deg = np.empty(order.shape[0], np.int32)
  deg[order] = np.arange(1, order.shape[0] + 1)
  return deg


def draw_degrees(rng: np.random.Generator, dim: int, hidden: Sequence[int],
                 random_order: bool) -> tuple:
  """(m_0 [D], m_1 [H_1], ..., m_L [H_L]) of one mask: the natural ordering 0..D-1 or a random
  permutation (`random_order`), hidden degrees uniform on [min of the layer below, D-1]."""
  if dim < 2:
    raise ValueError(f'MADE needs at least 2 dimensions, got D={dim}')
  order = rng.permutation(dim) if random_order else np.arange(dim)
  degrees = [order_degrees(order)]
  for size in hidden:
    low = int(degrees[-1].min())
    degrees.append(rng.integers(low, dim, size=size).astype(np.int32))   # [low, D-1]
  return tuple(degrees)


def stacked_degrees(seed: int, num_masks: int, dim: int, hidden: Sequence[int],
                    random_order: bool) -> tuple:
  """The degrees of a set of `num_masks` masks, stacked per layer: ([n, D], [n, H_1], ...).
  Mask i is drawn from numpy's Generator of (seed, i): pure in its arguments, and the first
  masks of a larger set are those of a smaller one."""
  draws = [draw_degrees(np.random.default_rng((seed, i)), dim, hidden, random_order)
           for i in range(num_masks)]
  return tuple(np.stack(layer) for layer in zip(*draws))


def masks(degrees: Sequence) -> Masks:
  """The float 0/1 `Masks` of one mask's degrees (m_0, m_1, ..., m_L); numpy or jax arrays."""
  m0 = degrees[0]
  hidden = tuple((d_out[None, :] >= d_in[:, None]).astype(np.float32)
                 for d_in, d_out in zip(degrees[:-1], degrees[1:]))
  out = (m0[None, :] > degrees[-1][:, None]).astype(np.float32)
  direct = (m0[None, :] > m0[:, None]).astype(np.float32)
  return Masks(hidden, out, direct)


def input_order(degrees0) -> jax.Array:
  """The ordering (``order[t]``: the input generated at step t) of input degrees m_0 [D]."""
  return jnp.argsort(degrees0)


class MaskedDense(nn.Module):
  """``x @ (kernel * mask) + bias``: a dense layer whose connections the mask [in, out] cuts."""

  features: int
  use_bias: bool = True

  @nn.compact
  def __call__(self, x: jax.Array, mask: jax.Array) -> jax.Array:
    kernel = self.param('kernel', nn.initializers.lecun_normal(), (x.shape[-1], self.features))
    y = x @ (kernel * mask)
    if self.use_bias:
      y = y + self.param('bias', nn.initializers.zeros, (self.features,))
    return y


class MADE(nn.Module):
  """An MLP of masked ReLU layers mapping x [b, D] to per-dimension outputs [b, D, per_dim].

  Attributes:
    hidden: widths of the hidden layers (their count must match the masks').
    per_dim: outputs per dimension (1: a Bernoulli logit; K: categorical logits); output d's
      values all take output d's mask column.
    direct: add the masked direct input->output connection.
  """

  hidden: tuple
  per_dim: int = 1
  direct: bool = True

  @nn.compact
  def __call__(self, x: jax.Array, mask: Masks) -> jax.Array:
    if len(mask.hidden) != len(self.hidden):
      raise ValueError(f'{len(mask.hidden)} hidden masks for {len(self.hidden)} hidden layers')
    dim = x.shape[-1]
    h = x
    for size, m in zip(self.hidden, mask.hidden):
      h = nn.relu(MaskedDense(size)(h, m))
    y = MaskedDense(dim * self.per_dim)(h, jnp.repeat(mask.out, self.per_dim, axis=1))
    if self.direct:
      y = y + MaskedDense(dim * self.per_dim, use_bias=False)(
          x, jnp.repeat(mask.direct, self.per_dim, axis=1))
    return y.reshape(*x.shape[:-1], dim, self.per_dim)
