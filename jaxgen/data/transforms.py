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
result does not depend on how many hosts share it.
"""

from __future__ import annotations

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
          train: bool) -> np.ndarray:
  """Transforms a global batch of integer images (uint8 [b, H, W, C]) into float32 inputs."""
  x = images.astype(np.float32)
  k = num_levels
  if cfg.binarize != 'none':
    p = x / (k - 1)
    if cfg.binarize == 'fixed':
      x = (p > cfg.binarize_threshold).astype(np.float32)
    else:
      x = (rng.uniform(size=x.shape) < p).astype(np.float32)
    k = 2
  if cfg.scale == 'levels':
    out = x
  else:
    if cfg.dequantize:
      unit = (x + rng.uniform(size=x.shape).astype(np.float32)) / k
    else:
      unit = x / (k - 1)
    out = unit if cfg.scale == 'unit' else 2.0 * unit - 1.0
  if train and cfg.flip:
    flip = rng.uniform(size=(x.shape[0],)) < 0.5
    out = np.where(flip[:, None, None, None], out[:, :, ::-1, :], out)
  return out.astype(np.float32)


def effective_levels(cfg, num_levels: int) -> int:
  return 2 if cfg.binarize != 'none' else num_levels
