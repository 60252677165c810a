"""Pictures: sample grids for images, scatter plots for 2-D data, training curves."""

from __future__ import annotations

import math
from typing import Optional

import numpy as np


def to_uint8(x: np.ndarray, spec) -> np.ndarray:
  """Maps data in [spec.low, spec.high] to 0..255 (clipped)."""
  unit = (np.asarray(x, np.float32) - spec.low) / (spec.high - spec.low)
  return (np.clip(unit, 0, 1) * 255 + 0.5).astype(np.uint8)


def image_grid(images: np.ndarray, ncol: Optional[int] = None, pad: int = 1) -> np.ndarray:
  """Tiles uint8 images [n, H, W, C] into one [rows*(H+pad)+pad, cols*(W+pad)+pad, C] image."""
  n, h, w, c = images.shape
  ncol = ncol or int(math.ceil(math.sqrt(n)))
  nrow = int(math.ceil(n / ncol))
  grid = np.full((nrow * (h + pad) + pad, ncol * (w + pad) + pad, c), 255, np.uint8)
  for i in range(n):
    r, q = divmod(i, ncol)
    grid[pad + r * (h + pad):pad + r * (h + pad) + h, pad + q * (w + pad):pad + q * (w + pad) + w] = images[i]
  return grid


def save_image_grid(path: str, x: np.ndarray, spec, scale: int = 0) -> None:
  from PIL import Image

  grid = image_grid(to_uint8(x, spec))
  img = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
  scale = scale or max(1, 256 // max(x.shape[1], 1))
  if scale > 1:
    img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
  img.save(path)


def save_scatter(path: str, x: np.ndarray, reference: Optional[np.ndarray] = None,
                 title: str = '', lim=(-4.5, 4.5)) -> None:
  import matplotlib

  matplotlib.use('Agg')
  import matplotlib.pyplot as plt

  cols = 2 if reference is not None else 1
  fig, axes = plt.subplots(1, cols, figsize=(4 * cols, 4), squeeze=False)
  panels = [(x, 'samples')] + ([(reference, 'data')] if reference is not None else [])
  for ax, (pts, name) in zip(axes[0], panels):
    ax.scatter(pts[:, 0], pts[:, 1], s=1, alpha=0.5)
    ax.set_xlim(*lim)
    ax.set_ylim(*lim)
    ax.set_aspect('equal')
    ax.set_title(name)
  if title:
    fig.suptitle(title)
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


def save_samples(path: str, x: np.ndarray, spec, reference=None, title: str = '') -> None:
  """A scatter plot for 2-D data, an image grid otherwise."""
  if x.ndim == 2 and x.shape[1] == 2:
    save_scatter(path, x, reference, title, lim=(spec.low, spec.high))
  else:
    save_image_grid(path, x, spec)


def save_curves(path: str, records: list[dict], keys=('loss',)) -> None:
  """Plots metrics.jsonl records (step on x) for the given keys."""
  import matplotlib

  matplotlib.use('Agg')
  import matplotlib.pyplot as plt

  fig, ax = plt.subplots(figsize=(5, 3.5))
  for k in keys:
    pts = [(r['step'], r[k]) for r in records if k in r]
    if pts:
      ax.plot(*zip(*pts), label=k)
  ax.set_xlabel('step')
  ax.legend()
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)
