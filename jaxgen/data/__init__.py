"""Data: a registry of sources and a deterministic, host-sharded batch pipeline.

``build(config.data, seed)`` returns a `Dataset` whose training batch at step s is a pure function
of ``(seed, s)``: the example order is a fresh permutation per epoch drawn from ``(seed, epoch)``
and the transform noise (dequantization, resampled binarization, flips) from ``(seed, s)``, always
drawn for the whole global batch. Each host keeps only its contiguous share, so a resumed run, or
one on a different number of hosts, sees exactly the batches it would have seen.

Sources: ``toy2d:<name>`` (generated, continuous, infinite), ``digits`` (scikit-learn 8x8, 17
levels), ``fashion_mnist`` (IDX files, 256 levels), ``tfds:<name>`` (any TFDS image set),
``pairs:<file.npz>`` (a reflow coupling, `jaxgen.data.pairs`: batches carry ``x`` = z1 and
``x0`` = z0 of the same examples, in epochs like the finite sets; evaluation on the source run's
data; ``train_split``, ``eval_split`` and ``max_examples`` must keep their defaults).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import Iterator, Optional

import jax
import ml_collections
import numpy as np

from jaxgen.data import pairs, sources, toy2d, transforms
from jaxgen.data.sources import DataNotFoundError  # noqa: F401  (re-exported)


def defaults() -> ml_collections.ConfigDict:
  """The ``data`` section of every run config, with its defaults (see the module docstring)."""
  return ml_collections.ConfigDict(dict(
      name='toy2d:moons',   # 'toy2d:<name>' | 'digits' | 'fashion_mnist' | 'tfds:<name>'
      dir='',               # fashion_mnist: folder of the IDX files; tfds: data_dir ('' = default)
      train_split='train',
      eval_split='test',
      scale='none',         # 'unit' [0,1] | 'symmetric' [-1,1] | 'levels' 0..K-1 | 'none' (raw)
      dequantize=False,     # uniform dequantization: x -> (x + u) / K, bins of exactly 1/K
      binarize='none',      # 'none' | 'fixed' (x > threshold) | 'resample' (Bernoulli each visit)
      binarize_threshold=0.5,
      flip=False,           # random horizontal flip of training images
      eval_size=10000,      # toy2d: size of the fixed evaluation sample
      max_examples=0,       # >0: keep only the first N examples of each split (quick runs)
  ))


@dataclasses.dataclass(frozen=True)
class DataSpec:
  """What a model needs to know about its data.

  Attributes:
    name: the source name (``config.data.name``).
    shape: the shape of one example, e.g. (28, 28, 1) or (2,).
    low, high: the value range of ``batch['x']`` after the transforms.
    num_levels: discrete levels K of the data the model sees (2 after binarization, 17 for digits,
      256 for 8-bit images); None for continuous sources.
    num_classes: number of labels, or None.
    scale: 'unit' | 'symmetric' | 'levels' | 'none' (see `jaxgen.data.transforms`).
    dequantized: whether uniform dequantization noise was added (bins of width (high-low)/K).
  """

  name: str
  shape: tuple
  low: float
  high: float
  num_levels: Optional[int]
  num_classes: Optional[int]
  scale: str
  dequantized: bool = False

  @property
  def dim(self) -> int:
    return int(np.prod(self.shape))


# data.* keys that a pairs: source does not use, with the only values it accepts.
PAIRS_FIXED = {'train_split': 'train', 'eval_split': 'test', 'max_examples': 0}


def _rng(*key: int) -> np.random.Generator:
  return np.random.default_rng([int(k) for k in key])


class Dataset:
  """Deterministic batches of one data source; see the module docstring."""

  def __init__(self, cfg, seed: int):
    self.cfg = cfg
    self.seed = seed
    name = cfg.name
    self._pairs = self._source = None   # pairs: the coupling and the source run's Dataset
    if name.startswith(pairs.PREFIX):
      self._init_pairs(name)
      return
    if name.startswith('toy2d:'):
      self._toy = name.split(':', 1)[1]
      if self._toy not in toy2d.SAMPLERS:
        raise ValueError(f'config.data.name={name!r}: no such toy density; available: '
                         + ', '.join('toy2d:' + k for k in toy2d.SAMPLERS))
      if cfg.scale != 'none' or cfg.dequantize or cfg.binarize != 'none' or cfg.flip:
        raise ValueError(f"{name} is continuous 2-D data: set data.scale='none' and leave "
                         'dequantize, binarize and flip off')
      self._train = self._eval = None
      self.spec = DataSpec(name, (2,), toy2d.RANGE[0], toy2d.RANGE[1], None, None, 'none')
      self._eval_x = toy2d.sample(self._toy, _rng(seed, 7, 0), cfg.eval_size)
      return
    self._toy = None
    self._train = self._load(cfg.train_split)
    self._eval = self._load(cfg.eval_split)
    transforms.check(cfg, self._train.num_levels)
    k = transforms.effective_levels(cfg, self._train.num_levels)
    low, high = transforms.value_range(cfg.scale, k)
    self.spec = DataSpec(name, tuple(self._train.images.shape[1:]), low, high, k,
                         self._train.num_classes, cfg.scale, bool(cfg.dequantize))

  def _init_pairs(self, name: str) -> None:
    cfg = self.cfg
    if cfg.scale != 'none' or cfg.dequantize or cfg.binarize != 'none' or cfg.flip:
      raise ValueError(f"{name}: pairs are already in the model's space: set data.scale='none' "
                       'and leave dequantize, binarize and flip off')
    # Every pair is a training example and evaluation uses the source run's data: no splits.
    unused = [f'data.{k}={cfg[k]!r}' for k, default in PAIRS_FIXED.items() if cfg[k] != default]
    if unused:
      raise ValueError(f'{name}: {", ".join(unused)} would be ignored (a pairs file has no splits '
                       "and evaluates on its source run's data); leave "
                       + ', '.join(f'data.{k}={v!r}' for k, v in PAIRS_FIXED.items()))
    self._toy = self._train = self._eval = None
    self._pairs = pairs.load(name[len(pairs.PREFIX):])
    z1 = self._pairs.z1
    src = self._pairs.eval_source
    if src:  # evaluate on the data of the run that made the pairs (the chain's root), its seed
      src_data = ml_collections.ConfigDict(src['data'])
      src_data.eval_size = cfg.eval_size
      self._source = Dataset(src_data, int(src['seed']))
      if tuple(self._source.spec.shape) != z1.shape[1:]:
        raise ValueError(f'{name}: pairs of shape {z1.shape[1:]} but their source '
                         f'{src_data.name} has shape {self._source.spec.shape}. {pairs.HOW}')
      self.spec = dataclasses.replace(self._source.spec, name=name, num_classes=None)
    else:
      self.spec = DataSpec(name, z1.shape[1:], float(z1.min()), float(z1.max()), None, None,
                           'none')

  def _load(self, split: str) -> sources.Images:
    cfg = self.cfg
    if cfg.name == 'digits':
      data = sources.digits(split)
    elif cfg.name == 'fashion_mnist':
      data = sources.fashion_mnist(split, cfg.dir)
    elif cfg.name.startswith('tfds:'):
      data = sources.tfds_images(cfg.name.split(':', 1)[1], split, cfg.dir)
    else:
      raise ValueError(f'config.data.name={cfg.name!r} is not a data source; use toy2d:<name> '
                       f"({', '.join(toy2d.SAMPLERS)}), 'digits', 'fashion_mnist' or tfds:<name>")
    if cfg.max_examples:
      data = sources.Images(data.images[:cfg.max_examples],
                            None if data.labels is None else data.labels[:cfg.max_examples],
                            data.num_levels, data.num_classes)
    return data

  def eval_source(self) -> dict:
    """``{'data': config dict, 'seed': int}`` of the data this dataset evaluates on, with absolute
    paths: for ``pairs:`` the source run's data (the root of a reflow chain), else its own. A
    pairs file made from a run on this data stores it (``meta.eval_source``)."""
    if self._source is not None:
      return self._source.eval_source()
    data = self.cfg.to_dict()
    if data['name'].startswith(pairs.PREFIX):
      data['name'] = pairs.PREFIX + os.path.abspath(data['name'][len(pairs.PREFIX):])
    if data.get('dir'):
      data['dir'] = os.path.abspath(data['dir'])
    return {'data': data, 'seed': int(self.seed)}

  @property
  def fingerprint(self) -> Optional[dict]:
    """What identifies the training data beyond the config: for ``pairs:`` the file's absolute
    path and content digest (a run records it and refuses to resume on other pairs); else None."""
    if self._pairs is None:
      return None
    return {'pairs_file': os.path.abspath(self.cfg.name[len(pairs.PREFIX):]),
            'pairs_digest': self._pairs.digest}

  @property
  def train_size(self) -> Optional[int]:
    if self._pairs is not None:
      return len(self._pairs)
    return None if self._toy else len(self._train.images)

  @property
  def eval_size(self) -> int:
    if self._pairs is not None:
      return self._source.eval_size if self._source else min(len(self._pairs), self.cfg.eval_size)
    return len(self._eval_x) if self._toy else len(self._eval.images)

  @functools.lru_cache(maxsize=2)
  def _permutation(self, epoch: int) -> np.ndarray:
    return _rng(self.seed, 1, epoch).permutation(self.train_size)

  def _global_indices(self, step: int, batch_size: int) -> np.ndarray:
    n = self.train_size
    pos = np.arange(step * batch_size, (step + 1) * batch_size, dtype=np.int64)
    epochs = pos // n
    out = np.empty_like(pos)
    for e in np.unique(epochs):
      sel = epochs == e
      out[sel] = self._permutation(int(e))[pos[sel] % n]
    return out

  def train_batch(self, step: int, batch_size: int, process_index: Optional[int] = None,
                  process_count: Optional[int] = None) -> dict:
    """This host's share of the global training batch number `step` (numpy arrays)."""
    pi = jax.process_index() if process_index is None else process_index
    pc = jax.process_count() if process_count is None else process_count
    if batch_size % pc:
      raise ValueError(f'train.batch_size={batch_size} is not divisible by {pc} hosts')
    per_host = batch_size // pc
    sl = slice(pi * per_host, (pi + 1) * per_host)
    rng = _rng(self.seed, 2, step)
    if self._toy:
      return {'x': toy2d.sample(self._toy, rng, batch_size)[sl]}
    idx = self._global_indices(step, batch_size)
    if self._pairs is not None:
      return {'x': self._pairs.z1[idx[sl]], 'x0': self._pairs.z0[idx[sl]]}
    x = transforms.apply(self._train.images[idx], rng, self.cfg, self._train.num_levels, True)
    batch = {'x': x[sl]}
    if self._train.labels is not None:
      batch['label'] = self._train.labels[idx][sl]
    return batch

  def eval_batches(self, batch_size: int, num_batches: int = 0, draw: int = 0,
                   process_index: Optional[int] = None,
                   process_count: Optional[int] = None) -> Iterator[dict]:
    """The evaluation split in order, in global batches of `batch_size` (the last one padded by
    repetition and flagged by ``batch['mask']``); `draw` selects the dequantization noise."""
    pi = jax.process_index() if process_index is None else process_index
    pc = jax.process_count() if process_count is None else process_count
    if self._source is not None:
      for b in self._source.eval_batches(batch_size, num_batches, draw, pi, pc):
        b.pop('label', None)
        yield b
      return
    per_host = batch_size // pc
    n = self.eval_size
    total = -(-n // batch_size)
    if num_batches:
      total = min(total, num_batches)
    for b in range(total):
      idx = np.arange(b * batch_size, (b + 1) * batch_size)
      mask = idx < n
      idx = np.where(mask, idx, idx % n)
      sl = slice(pi * per_host, (pi + 1) * per_host)
      if self._pairs is not None:
        batch = {'x': self._pairs.z1[idx]}
      elif self._toy:
        batch = {'x': self._eval_x[idx]}
      else:
        rng = _rng(self.seed, 3, draw, b)
        batch = {'x': transforms.apply(self._eval.images[idx], rng, self.cfg,
                                       self._eval.num_levels, False)}
        if self._eval.labels is not None:
          batch['label'] = self._eval.labels[idx]
      batch['mask'] = mask
      yield {k: v[sl] for k, v in batch.items()}

  def eval_array(self, n: int = 0) -> np.ndarray:
    """The first n evaluation examples (all if 0), transformed, for sample-based metrics."""
    if self._pairs is not None and self._source is not None:
      return self._source.eval_array(n)
    n = min(n or self.eval_size, self.eval_size)
    if self._pairs is not None:
      return self._pairs.z1[:n]
    if self._toy:
      return self._eval_x[:n]
    return transforms.apply(self._eval.images[:n], _rng(self.seed, 4), self.cfg,
                            self._eval.num_levels, False)


def build(cfg, seed: int) -> Dataset:
  """The `Dataset` for ``config.data`` with the run's seed."""
  return Dataset(cfg, seed)
