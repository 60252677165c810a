"""NICE's additive coupling: the partition of the coordinates, the coupling MLP and the bijection.

An additive coupling layer (Dinh, Krueger, Bengio 2014, eq. 4) splits a flat vector ``x`` into a
conditioning part ``x_A`` and an updated part ``x_B`` and maps

    y_A = x_A,          y_B = x_B + m(x_A)          (forward, data -> latent)
    x_A = y_A,          x_B = y_B - m(y_A)          (inverse)

with ``m`` any function (here a ReLU MLP). Its Jacobian is unit triangular, so log|det| = 0 and the
inverse costs one evaluation of ``m``.

Partitions (``split``), over the flattened coordinates 0..D-1 (row-major for images):
  * ``'odd_even'`` (the paper's): part 0 = even indices, part 1 = odd indices;
  * ``'halves'``: part 0 = the first floor(D/2) indices, part 1 = the rest;
  * ``'checkerboard'``: for images [H, W, C], part 0 = pixels with (row + col) even (all channels).
Layer ``k`` conditions on part ``k % 2`` and updates the other part, so consecutive layers alternate
roles (the paper's alternation; the released code does the same by reordering the vector).

This module knows nothing about priors or likelihoods: `jaxgen.models.nice` composes it.
"""

from __future__ import annotations

from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

SPLITS = ('odd_even', 'halves', 'checkerboard')


def partition(shape: Sequence[int], split: str) -> tuple[np.ndarray, np.ndarray]:
  """Returns (part0, part1): sorted int index arrays over the flattened ``shape`` (a partition)."""
  dim = int(np.prod(shape))
  idx = np.arange(dim)
  if split == 'odd_even':
    mask = idx % 2 == 0
  elif split == 'halves':
    mask = idx < dim // 2
  elif split == 'checkerboard':
    if len(shape) < 2:
      raise ValueError(f"split='checkerboard' needs an image shape [H, W, ...], got {shape}")
    rows, cols = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing='ij')
    board = ((rows + cols) % 2 == 0)
    mask = np.broadcast_to(board.reshape(board.shape + (1,) * (len(shape) - 2)), shape).ravel()
  else:
    raise ValueError(f'unknown split {split!r}; expected one of {SPLITS}')
  part0, part1 = idx[mask], idx[~mask]
  if part0.size == 0 or part1.size == 0:
    raise ValueError(f'split {split!r} of shape {shape} leaves an empty part')
  return part0, part1


def layer_parts(shape: Sequence[int], split: str, layer: int) -> tuple[np.ndarray, np.ndarray]:
  """(conditioning indices, updated indices) of coupling layer ``layer`` (alternating roles)."""
  part0, part1 = partition(shape, split)
  return (part0, part1) if layer % 2 == 0 else (part1, part0)


class CouplingMLP(nn.Module):
  """The coupling function m: ``depth`` hidden ReLU layers of ``hidden`` units, then linear.

  The paper's MNIST setting is depth 5, hidden 1000. Initialisation (``kernel_init``):
    * ``'uniform'``: every kernel ~ U(-init_range, init_range), biases 0 (the released code,
      ``irange`` 0.01); with 1000 units the layer starts close to the identity map.
    * ``'he'``: He-normal hidden kernels and an output layer scaled by ``init_range`` (0 gives an
      exact identity at initialisation).
  """

  out_dim: int
  hidden: int = 1000
  depth: int = 5
  kernel_init: str = 'uniform'
  init_range: float = 0.01

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    if self.kernel_init == 'uniform':
      r = self.init_range

      def uniform(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -r, r)

      hidden_init = out_init = uniform
    elif self.kernel_init == 'he':
      hidden_init = nn.initializers.he_normal()
      out_init = nn.initializers.variance_scaling(self.init_range**2, 'fan_in', 'normal') if (
          self.init_range > 0) else nn.initializers.zeros
    else:
      raise ValueError(f"kernel_init must be 'uniform' or 'he', got {self.kernel_init!r}")
    h = x
    for i in range(self.depth):
      h = nn.relu(nn.Dense(self.hidden, kernel_init=hidden_init, name=f'hidden_{i}')(h))
    return nn.Dense(self.out_dim, kernel_init=out_init, name='out')(h)


def additive_coupling(x: jax.Array, shift_fn: Callable[[jax.Array], jax.Array],
                      cond_idx: np.ndarray, upd_idx: np.ndarray, *, inverse: bool = False
                      ) -> jax.Array:
  """Applies y_B = x_B + m(x_A) (or its inverse x_B = y_B - m(y_A)) on flat ``x[..., D]``.

  ``shift_fn`` maps ``x[..., cond_idx]`` to a shift of shape ``x[..., upd_idx]``. Log-det is 0.
  """
  shift = shift_fn(x[..., cond_idx])
  return x.at[..., upd_idx].add(-shift if inverse else shift)
