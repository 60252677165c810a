"""Reflow pairs: the ``pairs:<folder>`` source of a deterministic coupling (z0, z1), in shards.

A pairs folder (written by ``python -m launch.reflow``, by default ``RUN/reflow/pairs/``) holds

    shard_00000.npz ...  z0, z1: float32 [m, *shape], m = index.shard_size (the last one: the rest)
                         z0 the noise end (t = 0 in rectified flow's convention), z1 = ODE(z0) of
                         the flow that made them; written byte-deterministically (stored
                         members, fixed time stamps), so the same pairs always give the same
                         file and the same SHA-256
    shard_00000.json     the shard's record: index, pairs, SHA-256 and size of the file, NFE, z1
                         range
    plan.json            how the pairs are made (written first; a resumed generation must match)
    index.json           written last, once every shard exists: the plan (solver, steps, rtol,
                         atol, seed, chunk, source_workdir, source_step, ``source_config``, the
                         whole config of the source run, ``eval_source``: ``{'data': ..., 'seed':
                         ...}`` of the data the source run is evaluated on, with absolute paths),
                         the shards' records and ``digest`` (SHA-256 of the shape and the shards'
                         SHA-256s: the identity of the coupling)

Without ``index.json`` the folder is unfinished (a generation was stopped): the source refuses it
and says to rerun launch.reflow, which resumes. Files are read through `jaxgen.store.paths` (local
or ``gs://``) and checked with `jaxgen.store.shards.sha256`.

Training batches carry ``x = z1`` and ``x0 = z0`` of the same examples (a k-RF or distillation
loss reads ``batch['x0']``) and are a pure function of (seed, step) that reads only the shards
the batch touches (`order`): epoch e visits the shards in the order of a permutation drawn from
(seed, 5, e), in windows of `WINDOW` shards, each window's pairs in the order of a permutation
drawn from (seed, 5, e, w). The pairs are i.i.d. (z0 ~ N(0, I), z1 a function of z0), so
shuffling inside windows loses nothing against a global permutation; it bounds the reads: a batch
(of at most a window's pairs) touches at most 2 windows, and a small LRU (`CACHE` shards) loads
each shard about once per epoch. Memory: `CACHE` shards, never the whole set. Digests: at open,
the index is read and each shard's presence and byte size checked (one listing: a missing or
truncated shard is refused before a run writes anything); each shard's SHA-256 is checked every
time it is read from disk (one hash pass per load, about as long as reading it; ~once per shard
per epoch), so a damaged shard is refused at its first read, naming the file and the fix.

The evaluation split is the *source run's* evaluation data, rebuilt from ``eval_source``, so a
2-RF run is scored against the real data exactly like the 1-RF run it came from; along a reflow
chain it is the root run's data (reading k-RF pairs never opens the earlier rounds' folders). A
folder without it evaluates against its own z1. `PairsSource` is the source; its `fingerprint` is
the folder's absolute path and ``digest``.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import json
import os
import threading
from typing import Optional

import ml_collections
import numpy as np

from jaxgen.data import source
from jaxgen.data.loaders import DataNotFoundError
from jaxgen.store import paths
from jaxgen.store import shards

PREFIX = 'pairs:'
FORMAT = 'jaxgen.pairs/2'
STEM = 'shard'   # shard_00000.npz, its record shard_00000.json (`jaxgen.store.shards`)
WINDOW = 2       # shards shuffled together (see the module docstring)
CACHE = 2 * WINDOW   # shards a reader keeps loaded
HOW = ('Make them from a trained rectified-flow run with `python -m launch.reflow --workdir RUN '
       '--num N` (it writes RUN/reflow/pairs/), then train with '
       '--config.data.name=pairs:RUN/reflow/pairs (or an experiment\'s reflow variant with '
       '--config.train.init_from=RUN).')
# data.* keys that a pairs: source does not use, with the only values it accepts.
FIXED = {'train_split': 'train', 'eval_split': 'test', 'max_examples': 0}


def digest(shape, records) -> str:
  """SHA-256 (hex) of the example shape and the shards' SHA-256s, in order: the identity of the
  coupling, recorded by a run that trains on it so that a resume on other pairs is refused."""
  text = repr(tuple(int(d) for d in shape)) + ''.join(r['sha256'] for r in records)
  return shards.sha256(text.encode())


def _error_name(folder: str) -> str:
  return f'data.name={PREFIX}{folder}'


def read_index(folder: str) -> dict:
  """The checked ``index.json`` of a pairs folder (every shard present at its recorded size);
  raises `DataNotFoundError` / ValueError with one line naming the file and the fix."""
  name = _error_name(folder)
  index = paths.join(folder, shards.INDEX)
  if not paths.isfile(index):
    if paths.isfile(paths.join(folder, shards.PLAN)):
      raise DataNotFoundError(
          f'{name}: {index} is missing: the pair generation into {folder} did not finish. Rerun '
          'the same `python -m launch.reflow` command (it keeps the finished shards and makes the '
          'rest).')
    raise DataNotFoundError(f'{name}: no {index}. {HOW}')
  try:
    meta = json.loads(paths.read_text(index))
    shape = tuple(meta['shape'])
    records = meta['shards']
    assert meta['format'] == FORMAT and sum(r['num'] for r in records) == meta['num'] > 0
  except Exception as e:  # noqa: BLE001  (not JSON, fields missing)
    raise ValueError(f'{name}: {index} is not a pairs index ({type(e).__name__}: {e}); remake '
                     f'the pairs with `python -m launch.reflow ... --force`. {HOW}') from None
  present = set(paths.listdir(folder))
  for r in records:
    f = paths.join(folder, r['file'])
    if r['file'] not in present:
      raise DataNotFoundError(f'{name}: shard {f} is missing; remake the pairs with `python -m '
                              'launch.reflow --workdir RUN --num N --force` (or restore the file)')
    if paths.is_local(f) and os.path.getsize(f) != r['bytes']:
      raise ValueError(f'{name}: shard {f} has {os.path.getsize(f)} bytes, its index says '
                       f'{r["bytes"]} (truncated or replaced); remake the pairs with `python -m '
                       'launch.reflow --workdir RUN --num N --force` (or restore the file)')
  meta['shape'] = shape
  return meta


def read_shard(folder: str, record: dict) -> tuple[np.ndarray, np.ndarray]:
  """``(z0, z1)`` of one shard, after checking the file's SHA-256 against its `record`."""
  f = paths.join(folder, record['file'])
  try:
    data = paths.read_bytes(f)
  except FileNotFoundError:
    raise DataNotFoundError(f'{_error_name(folder)}: shard {f} is missing; remake the pairs with '
                            '`python -m launch.reflow --workdir RUN --num N --force` (or restore '
                            'the file)') from None
  if shards.sha256(data) != record['sha256']:
    raise ValueError(f'{_error_name(folder)}: shard {f} is damaged (its SHA-256 differs from the '
                     'index); remake the pairs with `python -m launch.reflow --workdir RUN --num N '
                     '--force` (or restore the file)')
  z = shards.load_npz_bytes(data)
  return z['z0'], z['z1']


class Pairs:
  """A pairs folder opened for reading: ``index`` (the checked index dict), ``shape``, ``len``,
  and `rows`: pairs by global index, through an LRU of `CACHE` loaded shards (thread-safe)."""

  def __init__(self, folder: str, cache: int = CACHE):
    self.folder = folder
    self.index = read_index(folder)
    self.records = self.index['shards']
    self.shape = self.index['shape']
    self.starts = np.cumsum([0] + [r['num'] for r in self.records])
    self._cache: collections.OrderedDict = collections.OrderedDict()
    self._size = max(1, cache)
    self._lock = threading.Lock()
    self.loads = 0   # shards read from disk (tests, benchmarks)

  def __len__(self) -> int:
    return int(self.starts[-1])

  @property
  def meta(self) -> dict:
    return self.index

  @property
  def digest(self) -> str:
    return self.index['digest']

  @property
  def source_config(self) -> Optional[dict]:
    return self.index.get('source_config')

  @property
  def eval_source(self) -> Optional[dict]:
    """``{'data': data config dict, 'seed': int}`` of the evaluation data, or None."""
    if self.index.get('eval_source'):
      return self.index['eval_source']
    src = self.source_config
    return {'data': src['data'], 'seed': src['seed']} if src else None

  def shard(self, i: int) -> tuple[np.ndarray, np.ndarray]:
    with self._lock:
      if i in self._cache:
        self._cache.move_to_end(i)
        return self._cache[i]
    z = read_shard(self.folder, self.records[i])   # outside the lock: readers in parallel
    with self._lock:
      self.loads += 1
      self._cache[i] = z
      while len(self._cache) > self._size:
        self._cache.popitem(last=False)
    return z

  def rows(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(z0[idx], z1[idx])`` for global indices `idx`, reading only the shards they touch."""
    idx = np.asarray(idx, np.int64)
    z0 = np.empty((len(idx),) + self.shape, np.float32)
    z1 = np.empty_like(z0)
    which = np.searchsorted(self.starts, idx, side='right') - 1
    for i in dict.fromkeys(which.tolist()):   # in order of first use
      sel = which == i
      a0, a1 = self.shard(i)
      local = idx[sel] - self.starts[i]
      z0[sel], z1[sel] = a0[local], a1[local]
    return z0, z1


def order(seed: int, sizes, step: int, batch_size: int) -> np.ndarray:
  """Global pair indices of training batch `step` (positions step*B .. (step+1)*B-1 of the
  concatenated epochs), a pure function of (seed, shard sizes, step, B): see the module
  docstring (windows of `WINDOW` shards)."""
  sizes = np.asarray(sizes, np.int64)
  starts = np.concatenate([[0], np.cumsum(sizes)])
  n = int(starts[-1])
  pos = np.arange(step * batch_size, (step + 1) * batch_size, dtype=np.int64)
  out = np.empty_like(pos)
  for e in np.unique(pos // n):
    sel = pos // n == e
    out[sel] = _epoch(int(seed), tuple(sizes.tolist()), int(e))(pos[sel] % n)
  return out


@functools.lru_cache(maxsize=4)
def _epoch(seed: int, sizes: tuple, e: int):
  """Position in epoch e -> global index (a closure over that epoch's shard order)."""
  sizes = np.asarray(sizes, np.int64)
  starts = np.concatenate([[0], np.cumsum(sizes)])
  shards = source.rng(seed, 5, e).permutation(len(sizes))
  windows = [shards[w:w + WINDOW] for w in range(0, len(shards), WINDOW)]
  wsize = np.array([sizes[w].sum() for w in windows])
  wstart = np.concatenate([[0], np.cumsum(wsize)])

  @functools.lru_cache(maxsize=2 * WINDOW)
  def members(w: int) -> np.ndarray:   # the window's global indices, in its permuted order
    glob = np.concatenate([np.arange(starts[s], starts[s + 1]) for s in windows[w]])
    return glob[source.rng(seed, 5, e, w).permutation(len(glob))]

  def lookup(q: np.ndarray) -> np.ndarray:
    w_of = np.searchsorted(wstart, q, side='right') - 1
    out = np.empty_like(q)
    for w in np.unique(w_of):
      sel = w_of == w
      out[sel] = members(int(w))[q[sel] - wstart[w]]
    return out

  return lookup


def index(plan: dict, records: list) -> dict:
  """The ``index.json`` dict: the plan, the shard records and their `digest`."""
  return dict(plan, format=FORMAT, shards=records, digest=digest(plan['shape'], records))


def load(folder: str) -> Pairs:
  """Opens a pairs folder (the index checked; shards read on demand). ``load(f).rows(...)``."""
  return Pairs(folder)


def load_all(folder: str) -> tuple[np.ndarray, np.ndarray]:
  """All pairs in memory, ``(z0, z1)`` (small sets and tests only)."""
  p = Pairs(folder)
  parts = [read_shard(folder, r) for r in p.records]
  return np.concatenate([a for a, _ in parts]), np.concatenate([b for _, b in parts])


class PairsSource(source.Source):
  """The ``pairs:<folder>`` source: training batches ``{'x': z1, 'x0': z0}`` of the same
  examples, streamed from the shards; evaluation on the source run's data (module docstring)."""

  def __init__(self, cfg, seed: int):
    super().__init__(cfg, seed)
    name = cfg.name
    if cfg.scale != 'none' or cfg.dequantize or cfg.binarize != 'none' or cfg.flip:
      raise ValueError(f"{name}: pairs are already in the model's space: set data.scale='none' "
                       'and leave dequantize, binarize and flip off')
    # Every pair is a training example and evaluation uses the source run's data: no splits.
    unused = [f'data.{k}={cfg[k]!r}' for k, default in FIXED.items() if cfg[k] != default]
    if unused:
      raise ValueError(f'{name}: {", ".join(unused)} would be ignored (pairs have no splits '
                       "and evaluate on their source run's data); leave "
                       + ', '.join(f'data.{k}={v!r}' for k, v in FIXED.items()))
    self._path = name[len(PREFIX):].rstrip('/')
    self._pairs = Pairs(self._path)
    shape = self._pairs.shape
    self._sizes = tuple(r['num'] for r in self._pairs.records)
    self._source = None
    src = self._pairs.eval_source
    if src:  # evaluate on the data of the run that made the pairs (the chain's root), its seed
      src_data = ml_collections.ConfigDict(src['data'])
      src_data.eval_size = cfg.eval_size
      self._source = source.build(src_data, int(src['seed']))
      if tuple(self._source.spec.shape) != shape:
        raise ValueError(f'{name}: pairs of shape {shape} but their source {src_data.name} has '
                         f'shape {self._source.spec.shape}. {HOW}')
      self.spec = dataclasses.replace(self._source.spec, name=name, num_classes=None)
    else:
      recs = self._pairs.records
      self.spec = source.DataSpec(name, shape, min(r['z1_min'] for r in recs),
                                  max(r['z1_max'] for r in recs), None, None, 'none')

  @property
  def train_size(self) -> int:
    return len(self._pairs)

  @property
  def eval_size(self) -> int:
    return self._source.eval_size if self._source else min(len(self._pairs), self.cfg.eval_size)

  @property
  def fingerprint(self) -> dict:
    """The folder's absolute path and digest: a run refuses to resume on other pairs."""
    return {'pairs_dir': paths.abspath(self._path), 'pairs_digest': self._pairs.digest}

  def eval_source(self) -> dict:
    """The source run's (the root of a reflow chain), else this folder's, with absolute paths."""
    if self._source is not None:
      return self._source.eval_source()
    own = super().eval_source()
    own['data']['name'] = PREFIX + paths.abspath(self._path)
    return own

  def eval_batches(self, batch_size, num_batches=0, draw=0, process_index=None,
                   process_count=None):
    if self._source is None:
      yield from super().eval_batches(batch_size, num_batches, draw, process_index, process_count)
      return
    for b in self._source.eval_batches(batch_size, num_batches, draw, process_index,
                                       process_count):
      b.pop('label', None)
      yield b

  def eval_array(self, n: int = 0):
    return super().eval_array(n) if self._source is None else self._source.eval_array(n)

  def train_indices(self, step: int, batch_size: int) -> np.ndarray:
    """Global pair indices of training batch `step` (`order`)."""
    return order(self.seed, self._sizes, step, batch_size)

  def _global_train_batch(self, step, batch_size):
    z0, z1 = self._pairs.rows(self.train_indices(step, batch_size))
    return {'x': z1, 'x0': z0}

  def _grain_dataset(self, batch_size, rows):
    def host_batch(s):   # only this host's rows are read
      z0, z1 = self._pairs.rows(self.train_indices(s, batch_size)[rows])
      return {'x': z1, 'x0': z0}
    from jaxgen.data import pipeline as pipeline_lib
    return pipeline_lib.step_dataset(host_batch)

  def _global_eval_batch(self, idx, batch, draw):
    return {'x': self._pairs.rows(idx)[1]}

  def _eval_examples(self, n):
    return self._pairs.rows(np.arange(n))[1]


source.register(PREFIX, PairsSource, PREFIX + '<folder>')
