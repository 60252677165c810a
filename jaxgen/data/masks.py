"""Observation masks of images for inpainting, shared by every family that inpaints.

A mask is boolean, of the example's shape ``[H, W, C]`` (or a batch ``[n, H, W, C]``), **True
where a value is observed** (kept exactly by every family's ``inpaint`` extra) and False where it
is hidden (to be filled). All channels of a pixel share its value.

Kinds (`MASKS`): 'bottom_half' (the bottom rows hidden), 'top_half', 'left_half', 'right_half',
'center' (the middle half of the rows hidden), 'odd_columns' (odd columns hidden) and 'random'
(each pixel observed with probability ``keep``; a key draws it).
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

MASKS = ('bottom_half', 'top_half', 'left_half', 'right_half', 'center', 'odd_columns', 'random')


def check_kinds(kinds: Sequence[str]) -> None:
  """Raises ValueError naming the unknown kinds and listing `MASKS`."""
  bad = [k for k in kinds if k not in MASKS]
  if bad:
    raise ValueError(f'unknown mask kind(s) {", ".join(map(repr, bad))}; available: '
                     f'{", ".join(MASKS)}')
  if not kinds:
    raise ValueError(f'no mask kinds given; name some of: {", ".join(MASKS)}')


def image_masks(shape: tuple[int, ...], kind: str, rng: jax.Array | None = None,
                keep: float = 0.25) -> jax.Array:
  """A boolean observed-mask of image ``shape`` [H, W, C] (True = observed); see `MASKS`.
  'random' needs ``rng`` and observes each pixel with probability ``keep``."""
  h, w = shape[0], shape[1]
  rows = jnp.arange(h)[:, None]
  cols = jnp.arange(w)[None, :]
  if kind == 'bottom_half':
    m = rows < h // 2
  elif kind == 'top_half':
    m = rows >= h // 2
  elif kind == 'left_half':
    m = cols >= w // 2
  elif kind == 'right_half':
    m = cols < w // 2
  elif kind == 'center':
    m = (rows < h // 4) | (rows >= h - h // 4)
  elif kind == 'odd_columns':
    m = cols % 2 == 0
  elif kind == 'random':
    if rng is None:
      raise ValueError("kind='random' needs an rng")
    m = jax.random.bernoulli(rng, keep, (h, w))
  else:
    raise ValueError(f'unknown mask kind {kind!r}; expected one of {MASKS}')
  m = jnp.broadcast_to(m, (h, w))
  return jnp.broadcast_to(m.reshape((h, w) + (1,) * (len(shape) - 2)), tuple(shape))


def batch_masks(shape: tuple[int, ...], kinds: Sequence[str], n: int, keep: float,
                key: jax.Array) -> np.ndarray:
  """``[len(kinds) * n, *shape]`` boolean masks, ``n`` per kind in the order of ``kinds``;
  'random' draws one mask per image from ``fold_in(key, position of the kind)``."""
  check_kinds(kinds)
  out = []
  for j, kind in enumerate(kinds):
    if kind == 'random':
      keys = jax.random.split(jax.random.fold_in(key, j), n)
      out.append(np.stack([np.asarray(image_masks(shape, kind, k, keep)) for k in keys]))
    else:
      out.append(np.broadcast_to(np.asarray(image_masks(shape, kind)), (n,) + tuple(shape)))
  return np.concatenate(out)
