"""Loaders of finite image sets held in memory: `digits`, `fashion_mnist` (IDX files), `tfds:<name>`.

Every loader returns integer-valued images ``uint8 [n, H, W, C]`` with ``num_levels`` levels
(0..K-1) and optional int32 labels; `jaxgen.data.transforms` turns them into model inputs.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
from typing import Optional

import numpy as np

FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist'
FASHION_MNIST_FILES = {
    'train': ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 60000),
    'test': ('t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte', 10000),
}


class DataNotFoundError(FileNotFoundError):
  """A data set is not on this machine; the message says how to get it."""


@dataclasses.dataclass(frozen=True)
class Images:
  """An in-memory split: images uint8 [n, H, W, C] with values 0..num_levels-1."""

  images: np.ndarray
  labels: Optional[np.ndarray]
  num_levels: int
  num_classes: Optional[int]


def digits(split: str) -> Images:
  """scikit-learn's 8x8 digits (1797 images, 17 levels 0..16). Split: the first 1500 are 'train',
  the last 297 'test' (a fixed split; the set ships with scikit-learn, so it is always there)."""
  from sklearn.datasets import load_digits

  d = load_digits()
  x = d.images.astype(np.uint8)[..., None]
  y = d.target.astype(np.int32)
  if split == 'train':
    sl = slice(0, 1500)
  elif split == 'test':
    sl = slice(1500, None)
  else:
    raise ValueError(f"digits has splits 'train' and 'test', not {split!r}")
  return Images(x[sl], y[sl], num_levels=17, num_classes=10)


def _read_idx(path: str) -> np.ndarray:
  opener = gzip.open if path.endswith('.gz') else open
  with opener(path, 'rb') as f:
    data = f.read()
  ndim = data[3]
  dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim)]
  arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
  if arr.size != int(np.prod(dims)):
    raise ValueError(f'{path}: header says {dims} but holds {arr.size} bytes; the file is damaged')
  return arr.reshape(dims)


def fashion_mnist(split: str, directory: str = '') -> Images:
  """Fashion-MNIST from the four IDX files (gzipped or not) in `directory`.

  The default directory is where Debian's `dataset-fashion-mnist` package puts them.
  """
  directory = directory or FASHION_MNIST_DIR
  if split not in FASHION_MNIST_FILES:
    raise ValueError(f"fashion_mnist has splits 'train' and 'test', not {split!r}")
  img_name, lbl_name, n = FASHION_MNIST_FILES[split]

  def find(name):
    for cand in (name, name + '.gz'):
      p = os.path.join(directory, cand)
      if os.path.exists(p):
        return p
    raise DataNotFoundError(
        f'fashion_mnist: {name}[.gz] not found in {directory}. Install it with '
        '`sudo apt-get install -y dataset-fashion-mnist` (files go to '
        f'{FASHION_MNIST_DIR}), or put the four IDX files in a folder and set '
        '--config.data.dir=FOLDER.')

  images, labels = _read_idx(find(img_name)), _read_idx(find(lbl_name))
  if images.shape != (n, 28, 28) or labels.shape != (n,):
    raise ValueError(f'fashion_mnist {split}: expected images ({n}, 28, 28) and labels ({n},), '
                     f'got {images.shape} and {labels.shape}; the files are incomplete')
  return Images(images[..., None], labels.astype(np.int32), num_levels=256, num_classes=10)


def tfds_images(name: str, split: str, data_dir: str = '') -> Images:
  """Any TFDS image data set, read through `tfds.data_source` (array_record; no TensorFlow).

  The set must have been prepared in array_record format, e.g.
  ``tfds build cifar10 --file_format=array_record`` (preparing needs TensorFlow:
  ``pip install -r requirements-tfds.txt``); reading it does not, and never downloads.
  """
  import tensorflow_datasets as tfds

  try:
    source = tfds.data_source(name, split=split, data_dir=data_dir or None, download=False)
  except Exception as e:  # tfds raises several types for a missing set
    raise DataNotFoundError(
        f'tfds:{name} split {split!r} could not be opened ({type(e).__name__}: {e}). This machine '
        f'may not have it: prepare it where there is a network with `pip install -r '
        f'requirements-tfds.txt && tfds build {name} --file_format=array_record '
        f'[--data_dir DIR]`, then pass --config.data.dir=DIR.') from e
  n = len(source)
  first = source[0]
  key = 'image' if 'image' in first else next(k for k, v in first.items() if np.ndim(v) >= 2)
  images = np.stack([np.asarray(source[i][key]) for i in range(n)])
  if images.ndim == 3:
    images = images[..., None]
  labels = None
  num_classes = None
  if 'label' in first:
    labels = np.array([source[i]['label'] for i in range(n)], dtype=np.int32)
    try:
      builder = tfds.builder(name, data_dir=data_dir or None)
      num_classes = int(builder.info.features['label'].num_classes)
    except Exception:  # metadata unavailable (mocked sets): infer
      num_classes = int(labels.max()) + 1
  if images.dtype != np.uint8:
    raise ValueError(f'tfds:{name}: expected uint8 images, got {images.dtype}')
  return Images(images, labels, num_levels=256, num_classes=num_classes)
