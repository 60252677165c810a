"""Synthetic stand-ins for known image sets that are not on this machine (``data.stand_in``).

A stand-in has the real set's example shape, number of levels and classes, so a smoke run
exercises the same model and the same shapes; its content is meaningless. Each split is a pure
function of (set name, split name): `TRAIN_SIZE` examples for a split named ``train...``,
`EVAL_SIZE` for any other, each a sum of three random Gaussian blobs per image (random centre,
width and per-channel amplitude) rescaled so that every image spans levels 0..K-1 exactly, and
labels independent of the images, each class equally often (up to one).
"""

from __future__ import annotations

import zlib
from typing import Optional

import numpy as np

from jaxgen.data.loaders import Images

# config.data.name -> (example shape, number of levels, number of classes)
SETS = {
    'fashion_mnist': ((28, 28, 1), 256, 10),
    'tfds:mnist': ((28, 28, 1), 256, 10),
    'tfds:fashion_mnist': ((28, 28, 1), 256, 10),
    'tfds:kmnist': ((28, 28, 1), 256, 10),
    'tfds:cifar10': ((32, 32, 3), 256, 10),
    'tfds:cifar100': ((32, 32, 3), 256, 100),
    'tfds:svhn_cropped': ((32, 32, 3), 256, 10),
}
TRAIN_SIZE, EVAL_SIZE = 512, 256
BLOBS = 3


def known(name: str) -> Optional[tuple]:
  """``(shape, num_levels, num_classes)`` of a set that has a stand-in, else None."""
  return SETS.get(name)


def images(name: str, split: str) -> Images:
  """The stand-in split of `name` (a key of `SETS`)."""
  (h, w, c), levels, classes = SETS[name]
  n = TRAIN_SIZE if split.startswith('train') else EVAL_SIZE
  rng = np.random.default_rng(zlib.crc32(f'{name}/{split}'.encode()))
  centre_y, centre_x = rng.uniform(0, h, (n, BLOBS, 1)), rng.uniform(0, w, (n, BLOBS, 1))
  width = rng.uniform(min(h, w) / 8, min(h, w) / 3, (n, BLOBS, 1))
  amp = rng.uniform(0.2, 1.0, (n, BLOBS, c))
  gy = np.exp(-0.5 * ((np.arange(h) - centre_y) / width) ** 2)     # [n, blobs, h]
  gx = np.exp(-0.5 * ((np.arange(w) - centre_x) / width) ** 2)     # [n, blobs, w]
  v = np.einsum('nbh,nbw,nbc->nhwc', gy, gx, amp)
  lo, hi = v.min((1, 2, 3), keepdims=True), v.max((1, 2, 3), keepdims=True)
  x = np.rint((v - lo) / (hi - lo) * (levels - 1)).astype(np.uint8)
  labels = rng.permutation(np.arange(n) % classes).astype(np.int32)
  return Images(x, labels, num_levels=levels, num_classes=classes)
