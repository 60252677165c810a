"""Pictures: sample grids for images, scatter plots for 2-D data, training curves.

Image grids are written by a small PNG encoder (numpy + zlib), so they need no imaging library.
Every picture is written atomically through `jaxgen.store.paths` (`paths.write_atomic`: a kill or a
full disk leaves the previous file or none, never half a picture), local or ``gs://...``.
Scatter plots and curves use matplotlib when it is installed; without it (e.g. a bare accelerator
image) a 2-D histogram PNG replaces the scatter plot and curves are skipped, with one notice each.
"""

from __future__ import annotations

import io
import math
import os
import struct
import sys
import zlib
from typing import Optional

import numpy as np

from jaxgen.store import paths

_NOTICES: set = set()


def _notice(key: str, text: str) -> None:
  if key not in _NOTICES:
    _NOTICES.add(key)
    print(f'jaxgen.runtime.viz: {text}', file=sys.stderr)


def write_png(path: str, image: np.ndarray, scale: int = 1, title: str = '') -> None:
  """Writes a uint8 ``[h, w]`` (grey) or ``[h, w, 3]`` (RGB) array as a PNG, each pixel repeated
  ``scale`` times in both directions (nearest neighbour); ``title`` goes into a ``tEXt`` chunk
  (the PNG keyword 'Title', shown by image viewers' properties)."""
  img = np.asarray(image)
  if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
    raise ValueError(f'write_png needs uint8 [h, w] or [h, w, 3], got {img.dtype} {img.shape}')
  if scale > 1:
    img = np.repeat(np.repeat(img, scale, axis=0), scale, axis=1)
  h, w = img.shape[:2]
  color_type = 0 if img.ndim == 2 else 2
  rows = img.reshape(h, -1)
  raw = np.concatenate([np.zeros((h, 1), np.uint8), rows], axis=1).tobytes()  # filter 0 per row

  def chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack('>I', len(data)) + tag + data + struct.pack(
        '>I', zlib.crc32(tag + data) & 0xffffffff)

  header = struct.pack('>IIBBBBB', w, h, 8, color_type, 0, 0, 0)
  text = chunk(b'tEXt', b'Title\x00' + title.encode('latin-1', 'replace')) if title else b''
  paths.write_atomic(path, b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) + text
                    + chunk(b'IDAT', zlib.compress(raw, 6)) + chunk(b'IEND', b''))


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


def class_rows(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, int]:
  """``(cells, ncol)``: the images laid out with one row per class present (in increasing label
  order, each row in sample order), ``ncol`` = the largest class count; short rows are padded
  with white cells. A single class keeps the square grid (``ncol`` None)."""
  labels = np.asarray(labels).reshape(-1)
  classes = np.unique(labels)
  if len(classes) == 1:
    return images, None
  ncol = max(int(np.sum(labels == k)) for k in classes)
  cells = np.full((len(classes) * ncol,) + images.shape[1:], 255, np.uint8)
  for r, k in enumerate(classes):
    members = images[labels == k]
    cells[r * ncol:r * ncol + len(members)] = members
  return cells, ncol


def save_image_grid(path: str, x: np.ndarray, spec, scale: int = 0, labels=None,
                    title: str = '') -> None:
  """An image grid; with ``labels`` ([n] ints) one row per class (`class_rows`)."""
  images, ncol = to_uint8(x, spec), None
  if labels is not None:
    images, ncol = class_rows(images, labels)
  grid = image_grid(images, ncol)
  scale = scale or max(1, 256 // max(x.shape[1], 1))
  write_png(path, grid[..., 0] if grid.shape[-1] == 1 else grid, scale, title)


def save_histogram(path: str, x: np.ndarray, lim=(-4.5, 4.5), bins: int = 128) -> None:
  """A 2-D histogram of points ``[n, 2]`` as a grey PNG (dark = dense; y up)."""
  h, _, _ = np.histogram2d(x[:, 1], x[:, 0], bins=bins, range=[lim, lim])
  img = 255 - (255 * np.sqrt(h / max(h.max(), 1))).astype(np.uint8)
  write_png(path, img[::-1], scale=max(1, 512 // bins))


def save_scatter(path: str, x: np.ndarray, reference: Optional[np.ndarray] = None,
                 title: str = '', lim=(-4.5, 4.5), labels=None) -> None:
  try:
    import matplotlib
  except ImportError:
    _notice('scatter', 'matplotlib is not installed: 2-D samples are saved as a histogram PNG')
    save_histogram(path, x, lim)
    return

  matplotlib.use('Agg')
  import matplotlib.pyplot as plt

  cols = 2 if reference is not None else 1
  fig, axes = plt.subplots(1, cols, figsize=(4 * cols, 4), squeeze=False)
  panels = [(x, 'samples')] + ([(reference, 'data')] if reference is not None else [])
  for ax, (pts, name) in zip(axes[0], panels):
    colour = dict(c=labels, cmap='tab10') if (labels is not None and name == 'samples') else {}
    ax.scatter(pts[:, 0], pts[:, 1], s=1, alpha=0.5, **colour)
    ax.set_xlim(*lim)
    ax.set_ylim(*lim)
    ax.set_aspect('equal')
    ax.set_title(name)
  if title:
    fig.suptitle(title)
  fig.tight_layout()
  buf = io.BytesIO()  # matplotlib writes to a file object; the path layer writes the bytes
  fig.savefig(buf, format=os.path.splitext(os.fspath(path))[1][1:] or 'png', dpi=100)
  plt.close(fig)
  paths.write_atomic(path, buf.getvalue())


def save_samples(path: str, x: np.ndarray, spec, reference=None, title: str = '',
                 labels=None) -> None:
  """A scatter plot for 2-D data (coloured by ``labels``), an image grid otherwise (one row per
  class with ``labels``; the title in the PNG's text chunk)."""
  if x.ndim == 2 and x.shape[1] == 2:
    save_scatter(path, x, reference, title, lim=(spec.low, spec.high), labels=labels)
  else:
    save_image_grid(path, x, spec, labels=labels, title=title)
