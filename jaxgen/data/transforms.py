"""From integer images to model inputs: binarize, dequantize, scale, flip.

Images arrive as integers 0..K-1 (K = `num_levels`). In order:

1. binarize (optional): 'fixed' keeps ``x / (K-1) > threshold``; 'resample' draws
   ``Bernoulli(x / (K-1))`` anew every time an example is visited. Afterwards K = 2.
2. scale, with uniform dequantization ``u ~ U[0, 1)`` when ``dequantize``:
   - 'unit':      ``(x + u) / K`` in [0, 1) (bins of exactly 1/K), or ``x / (K-1)`` without u;
   - 'symmetric': ``2 * unit - 1`` in [-1, 1];
   - 'levels':    ``x`` itself (float), for discrete likelihoods (no dequantization).
3. flip (training only): mirror each image left-right with probability 1/2.

All randomness comes from the numpy Generator passed in, drawn for the *global* batch so that the
result does not depend on how many hosts share it; a host that holds only its rows of the batch
(``rows=``) skips the other rows' draws and gets exactly its rows of the whole batch's result.
"""

from __future__ import annotations

from typing import Optional

import numpy as np


def value_range(scale: str, num_levels: int) -> tuple[float, float]:
  return {'unit': (0.0, 1.0), 'symmetric': (-1.0, 1.0), 'levels': (0.0, float(num_levels - 1))}[scale]


def check(cfg, num_levels: int) -> None:
  """Raises ValueError for data settings that make no sense for an image source."""
  if cfg.scale == 'none':
    raise ValueError(f"config.data.scale='none' is only for continuous sources such as toy2d; "
                     f"{cfg.name} holds images: choose 'unit', 'symmetric' or 'levels'")
  if cfg.scale == 'levels' and cfg.dequantize:
    raise ValueError("config.data.dequantize=True needs scale 'unit' or 'symmetric': "
                     "'levels' feeds the integers to a discrete likelihood")


def apply(images: np.ndarray, rng: np.random.Generator, cfg, num_levels: int,
          train: bool, rows: Optional[slice] = None, total: Optional[int] = None) -> np.ndarray:
  """Transforms a global batch of integer images (uint8 [b, H, W, C]) into float32 inputs.

  With `rows` (and `total`, the global batch size) `images` are only rows ``rows`` of a global
  batch of `total`, and the result is exactly those rows of the whole batch's: the noise of the
  other rows is skipped in `rng`'s stream, not drawn (`_Noise`), so a host transforms only its
  share.
  """
  noise = _Noise(rng, images.shape, rows, total)
  x = images.astype(np.float32)
  k = num_levels
  if cfg.binarize != 'none':
    p = x / (k - 1)
    if cfg.binarize == 'fixed':
      x = (p > cfg.binarize_threshold).astype(np.float32)
    else:
      x = (noise.per_value() < p).astype(np.float32)
    k = 2
  if cfg.scale == 'levels':
    out = x
  else:
    if cfg.dequantize:
      unit = (x + noise.per_value().astype(np.float32)) / k
    else:
      unit = x / (k - 1)
    out = unit if cfg.scale == 'unit' else 2.0 * unit - 1.0
  if train and cfg.flip:
    flip = noise.per_example() < 0.5
    out = np.where(flip[:, None, None, None], out[:, :, ::-1, :], out)
  return out.astype(np.float32)


class _Noise:
  """Uniform draws of `rng` for rows `rows` of a global batch of `total` examples of shape
  ``shape[1:]``: each draw is a whole-batch draw (``uniform(size=(total, ...))``) of which the
  draws of the other rows are skipped with ``bit_generator.advance`` (one 64-bit output per float64
  draw, as numpy's uniform uses), so the values equal those of the whole batch's draw."""

  def __init__(self, rng: np.random.Generator, shape, rows: Optional[slice], total: Optional[int]):
    self.rng = rng
    self.n = shape[0]
    self.lo = 0 if rows is None else rows.start
    self.total = self.n if total is None else total
    if self.lo + self.n > self.total:
      raise ValueError(f'rows {rows} of a batch of {self.total} hold {self.n} images')
    self.shape = tuple(shape[1:])
    self.size = int(np.prod(self.shape, dtype=np.int64))

  def _draw(self, per_row: int, shape) -> np.ndarray:
    skip_before, skip_after = self.lo * per_row, (self.total - self.lo - self.n) * per_row
    if skip_before:
      self.rng.bit_generator.advance(skip_before)
    out = self.rng.uniform(size=shape)
    if skip_after:
      self.rng.bit_generator.advance(skip_after)
    return out

  def per_value(self) -> np.ndarray:
    return self._draw(self.size, (self.n,) + self.shape)

  def per_example(self) -> np.ndarray:
    return self._draw(1, (self.n,))


def effective_levels(cfg, num_levels: int) -> int:
  return 2 if cfg.binarize != 'none' else num_levels
