"""The validation split: examples of the training split held out of training (``data.validation``).

``data.validation = n`` (an int count; 0, the default: none) holds out n examples of the training
split, taken after ``data.max_examples``: the last n of a permutation of the split drawn from a
fixed key (`KEY`), not from the run's seed, so they are the same examples for every seed, every
resume and every host. The training split keeps the other examples in their original order (so
n = 0 leaves the training stream exactly as it was); a training batch never holds a held-out
example. The validation split is evaluated like the evaluation split (`ImageSource.validation`);
`fingerprint` names it, so a run does not resume on another split.
"""

from __future__ import annotations

import hashlib
from typing import Optional

import numpy as np

KEY = (0x76616C, 1)  # the held-out permutation's numpy key ('val'), independent of any seed


def check(n, size: int, name: str) -> int:
  """`n` as a count of held-out examples, ValueError unless 0 <= n < `size` (some must train)."""
  if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < size:
    raise ValueError(f'config.data.validation={n!r}: hold out a number of examples from 0 (none) '
                     f'to {size - 1}: the training split of {name} holds {size}')
  return n


def held_out(size: int, n: int) -> np.ndarray:
  """The indices (ascending) of the n held-out examples of a training split of `size`."""
  if not n:
    return np.zeros((0,), np.int64)
  return np.sort(np.random.default_rng(KEY).permutation(size)[size - n:])


def kept(size: int, n: int) -> np.ndarray:
  """The indices (ascending) of the training examples left after holding out n."""
  mask = np.ones(size, bool)
  mask[held_out(size, n)] = False
  return np.flatnonzero(mask)


def fingerprint(size: int, n: int) -> Optional[dict]:
  """The split's identity (None without one): its size and a digest of the held-out indices."""
  if not n:
    return None
  digest = hashlib.sha256(held_out(size, n).astype('<i8').tobytes()).hexdigest()[:16]
  return {'validation': n, 'validation_of': size, 'validation_indices': digest}


class Subset:
  """The examples `indices` of a record set (`jaxgen.data.loaders`), itself a record set: a
  lazy one stays lazy (each read is one batched read of the underlying examples)."""

  def __init__(self, records, indices: np.ndarray):
    self.records, self.indices = records, np.asarray(indices, np.int64)
    self.lazy = records.lazy
    self.shape, self.num_levels = records.shape, records.num_levels
    self.has_labels = records.has_labels

  @property
  def num_classes(self) -> Optional[int]:
    return self.records.num_classes

  def __len__(self) -> int:
    return len(self.indices)

  def __getitem__(self, i: int) -> dict:
    return self.records[int(self.indices[i])]

  def read(self, idx):
    return self.records.read(self.indices[np.asarray(idx)])


def split(records, n: int, name: str):
  """``(training, validation)`` record sets of `records` with n held out (`held_out`); validation
  None for n = 0 (and `records` itself as training). An in-memory set is split into two in-memory
  sets; a lazy one into two `Subset` views."""
  n = check(n, len(records), name)
  if not n:
    return records, None
  train, val = kept(len(records), n), held_out(len(records), n)
  if records.lazy:
    return Subset(records, train), Subset(records, val)
  return records.subset(train), records.subset(val)
