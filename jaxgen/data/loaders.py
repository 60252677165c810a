"""Loaders of finite image sets: `digits`, `fashion_mnist` (IDX files), `tfds:<name>`.

Every loader returns a *record set* of integer-valued images ``uint8 [H, W, C]`` with
``num_levels`` levels (0..K-1) and optional int32 labels; `jaxgen.data.transforms` turns them into
model inputs. A record set has random access (a Grain data source: ``len``, ``rs[i] -> {'image',
'label'}``), vectorised reads ``read(idx) -> (images [k, H, W, C], labels [k] | None)``, ``take(n)``
(the first n) and ``shape``, ``num_levels``, ``num_classes``, ``has_labels``, ``lazy``. `Images` is
one held in memory; `TfdsImages` reads a prepared TFDS set (ArrayRecord) lazily, the records a
batch needs in one batched read, or loads it into `Images` with Grain's reader threads (each record read once, in chunks).
"""

from __future__ import annotations

import dataclasses
import functools
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
  lazy = False

  def __len__(self) -> int:
    return len(self.images)

  def __getitem__(self, i: int) -> dict:
    out = {'image': self.images[i]}
    if self.labels is not None:
      out['label'] = self.labels[i]
    return out

  def read(self, idx) -> tuple[np.ndarray, Optional[np.ndarray]]:
    return self.images[idx], None if self.labels is None else self.labels[idx]

  def take(self, n: int) -> 'Images':
    """The first n examples (all if n is 0)."""
    if not n:
      return self
    return self.subset(slice(0, n))

  def subset(self, idx) -> 'Images':
    """The examples `idx` (a slice or indices), with this split's levels and classes."""
    return Images(self.images[idx], None if self.labels is None else self.labels[idx],
                  self.num_levels, self.num_classes)

  @property
  def shape(self) -> tuple:
    return tuple(self.images.shape[1:])

  @property
  def has_labels(self) -> bool:
    return self.labels is not None


@functools.lru_cache(maxsize=1)
def _all_digits() -> tuple[np.ndarray, np.ndarray]:
  from sklearn.datasets import load_digits

  d = load_digits()
  x, y = d.images.astype(np.uint8)[..., None], d.target.astype(np.int32)
  x.flags.writeable = y.flags.writeable = False  # shared by every source: read-only
  return x, y


def digits(split: str) -> Images:
  """scikit-learn's 8x8 digits (1797 images, 17 levels 0..16). Split: the first 1500 are 'train',
  the last 297 'test' (a fixed split; the set ships with scikit-learn, so it is always there)."""
  x, y = _all_digits()
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


class TfdsImages:
  """A prepared TFDS image split read lazily through `tfds.data_source` (ArrayRecord; no
  TensorFlow): ``rs[i]`` decodes record i, ``read(idx)`` records idx; nothing is read until asked
  (the first record, for the shape, at opening). `load` reads it all into `Images`.

  The set must have been prepared in array_record format, e.g.
  ``tfds build cifar10 --file_format=array_record`` (preparing needs TensorFlow:
  ``pip install -r requirements-tfds.txt``); reading it does not, and never downloads.
  """

  lazy = True
  LOAD_CHUNK = 512

  def __init__(self, name: str, split: str, data_dir: str = '', limit: int = 0):
    try:
      import tensorflow_datasets as tfds
    except ImportError as e:  # e.g. a bare accelerator image: data.stand_in can still take over
      raise DataNotFoundError(
          f'tfds:{name} needs tensorflow-datasets, which is not installed here ({e}); '
          'pip install -r requirements.txt, or set --config.data.stand_in=true for a stand-in') from e
    try:
      self._source = tfds.data_source(name, split=split, data_dir=data_dir or None,
                                      download=False)
    except Exception as e:  # tfds raises several types for a missing set
      raise DataNotFoundError(
          f'tfds:{name} split {split!r} could not be opened ({type(e).__name__}: {e}). This '
          f'machine may not have it: prepare it where there is a network with `pip install -r '
          f'requirements-tfds.txt && tfds build {name} --file_format=array_record '
          f'[--data_dir DIR]`, then pass --config.data.dir=DIR.') from e
    self.name, self.split, self.data_dir = name, split, data_dir
    self._len = len(self._source) if not limit else min(limit, len(self._source))
    first = self._source[0]
    self._key = ('image' if 'image' in first
                 else next(k for k, v in first.items() if np.ndim(v) >= 2))
    image = self._image(first)
    if image.dtype != np.uint8:
      raise ValueError(f'tfds:{name}: expected uint8 images, got {image.dtype}')
    self.shape = tuple(image.shape)
    self.has_labels = 'label' in first
    self.num_levels = 256
    self._num_classes = None
    if self.has_labels:
      try:
        builder = tfds.builder(name, data_dir=data_dir or None)
        self._num_classes = int(builder.info.features['label'].num_classes)
      except Exception:  # metadata unavailable (mocked sets): `num_classes` infers it
        pass

  @property
  def num_classes(self) -> Optional[int]:
    """From the set's metadata, else 1 + the largest label (which reads every record, once)."""
    if self._num_classes is None and self.has_labels:
      self._num_classes = int(self.load().labels.max()) + 1
    return self._num_classes

  def _image(self, example) -> np.ndarray:
    x = np.asarray(example[self._key])
    return x[..., None] if x.ndim == 2 else x

  def __len__(self) -> int:
    return self._len

  def _example(self, record) -> dict:
    out = {'image': self._image(record)}
    if self.has_labels:
      out['label'] = np.int32(record['label'])
    return out

  def __getitem__(self, i: int) -> dict:
    if not 0 <= i < self._len:
      raise IndexError(f'record {i} of tfds:{self.name} {self.split} ({self._len} records)')
    return self._example(self._source[int(i)])

  def read(self, idx) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """Records `idx` in one batched read of the data source."""
    idx = [int(i) for i in np.asarray(idx).reshape(-1)]
    if idx and not (0 <= min(idx) and max(idx) < self._len):
      raise IndexError(f'records {min(idx)}..{max(idx)} of tfds:{self.name} ({self._len})')
    try:
      records = self._source.__getitems__(idx)  # ArrayRecord's batched (parallel) read
    except TypeError:  # tfds.testing.mock_data's __getitems__ is unbound: one by one
      records = [self._source[i] for i in idx]
    examples = [self._example(r) for r in records]
    return _stack(examples, self.shape, self.has_labels)

  def take(self, n: int) -> 'TfdsImages':
    if not n or n >= self._len:
      return self
    out = object.__new__(TfdsImages)
    out.__dict__.update(self.__dict__)
    out._num_classes = self.num_classes  # of the whole split, as a loaded one's
    out._len = n
    return out

  def load(self, threads: int = 8) -> Images:
    """The whole split in memory: chunks of `LOAD_CHUNK` records read by Grain's reader threads."""
    import grain

    chunks = (grain.MapDataset.range(-(-self._len // self.LOAD_CHUNK))
              .map(lambda c: self.read(range(c * self.LOAD_CHUNK,
                                             min(self._len, (c + 1) * self.LOAD_CHUNK))))
              .to_iter_dataset(grain.ReadOptions(num_threads=threads,
                                                 prefetch_buffer_size=threads)))
    parts = list(chunks)
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts]) if self.has_labels else None
    if labels is not None and self._num_classes is None:
      self._num_classes = int(labels.max()) + 1
    return Images(images, labels, self.num_levels, self._num_classes)


def _stack(examples, shape, has_labels) -> tuple[np.ndarray, Optional[np.ndarray]]:
  images = np.empty((len(examples),) + tuple(shape), np.uint8)
  for i, e in enumerate(examples):
    images[i] = e['image']
  labels = np.array([e['label'] for e in examples], np.int32) if has_labels else None
  return images, labels
