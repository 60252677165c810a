"""The interface every data source implements, the batch arithmetic they share, and the registry.

A source turns ``config.data`` and the run's seed into deterministic numpy batches. Its training
batch at step s is a pure function of ``(seed, s)``: finite sets walk a fresh permutation per
epoch drawn from ``(seed, epoch)``, and all noise is drawn for the whole *global* batch, of which
each host keeps its contiguous share, so a resumed run, or one on another number of hosts, sees
exactly the batches it would have seen. ``data.pipeline`` chooses how they are made (in memory,
or a Grain dataset that reads only this host's share): the batches are the same
(`jaxgen.data.pipeline`); `train_batches` walks a range of steps. A source implements
``_global_train_batch``, ``_global_eval_batch``, ``_eval_examples`` and ``eval_size`` (and may
override ``_grain_dataset`` to read only a host's rows, and ``validation`` with ``holds_out``);
`Source` does the host sharding, the padding and the mask.

Sources register under an exact name (``'digits'``) or a prefix ending in ``':'`` (``'tfds:'``)
with `register`; `build` looks the name up, so adding a source edits no other source.
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import os
from typing import Callable, Iterator, Optional

import jax
import numpy as np

from jaxgen.data import pipeline as pipeline_lib


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


def rng(*key: int) -> np.random.Generator:
  """The numpy Generator of an integer key; the streams sources use: (seed, 1, epoch) example
  order, (seed, 2, step) training noise, (seed, 3, draw, batch) evaluation noise, (seed, 4)
  `eval_array` noise, (seed, 7, 0) a generated evaluation sample."""
  return np.random.default_rng([int(k) for k in key])


def _host_share(batch_size: int, process_index: Optional[int], process_count: Optional[int],
                what: str) -> slice:
  pi = jax.process_index() if process_index is None else process_index
  pc = jax.process_count() if process_count is None else process_count
  if batch_size % pc:
    raise ValueError(f'{what}={batch_size} is not divisible by {pc} hosts')
  per_host = batch_size // pc
  return slice(pi * per_host, (pi + 1) * per_host)


class Source(abc.ABC):
  """Deterministic batches of one data source (see the module docstring).

  Attributes:
    cfg: the ``config.data`` section it was built from; seed: the run's seed.
    spec: the `DataSpec` of ``batch['x']``.
  """

  spec: DataSpec
  holds_out = False  # whether it implements ``data.validation`` (`validation`)

  def __init__(self, cfg, seed: int):
    self.cfg = cfg
    self.seed = int(seed)
    if cfg.get('validation', 0) and not self.holds_out:
      raise ValueError(f'config.data.validation={cfg.validation!r}: {cfg.name} has no finite '
                       'training split to hold examples out of (digits, fashion_mnist and '
                       'tfds:<name> have): set it to 0')
    self.pipeline = pipeline_lib.choose(cfg, lazy=False)  # 'memory' | 'grain'; see `pipeline`
    self._grain: dict = {}

  # --- what a source implements -----------------------------------------------------------------

  @abc.abstractmethod
  def _global_train_batch(self, step: int, batch_size: int) -> dict:
    """The whole global training batch number `step` (every host computes the same one)."""

  @abc.abstractmethod
  def _global_eval_batch(self, idx: np.ndarray, batch: int, draw: int) -> dict:
    """Evaluation examples `idx` (in 0..eval_size-1) forming global batch number `batch`."""

  @abc.abstractmethod
  def _eval_examples(self, n: int) -> np.ndarray:
    """``x`` of the first n evaluation examples (n <= eval_size)."""

  @property
  @abc.abstractmethod
  def eval_size(self) -> int:
    """Number of evaluation examples."""

  @property
  def train_size(self) -> Optional[int]:
    """Number of training examples; None for a generated (infinite) source."""
    return None

  @property
  def fingerprint(self) -> Optional[dict]:
    """JSON-able identity of the training data beyond the config (None when the config says it
    all); a run records it and refuses to resume when it changes."""
    return None

  def validation(self) -> Optional['Source']:
    """The source whose evaluation split is the validation split held out of the training split
    (``data.validation``; `jaxgen.data.validation`), or None without one."""
    return None

  def eval_source(self) -> dict:
    """``{'data': config dict, 'seed': int}`` of the data this source evaluates on, with absolute
    paths, so that a run derived from this one (reflow pairs) is scored on the same data."""
    data = self.cfg.to_dict()
    if data.get('dir'):
      data['dir'] = os.path.abspath(data['dir'])
    return {'data': data, 'seed': self.seed}

  # --- shared by every source -------------------------------------------------------------------

  def train_batch(self, step: int, batch_size: int, process_index: Optional[int] = None,
                  process_count: Optional[int] = None) -> dict:
    """This host's contiguous share of the global training batch number `step` (numpy arrays);
    the same whichever ``data.pipeline`` makes it."""
    if self.pipeline == 'grain':
      return self.grain_dataset(batch_size, process_index, process_count)[step]
    sl = _host_share(batch_size, process_index, process_count, 'train.batch_size')
    return {k: v[sl] for k, v in self._global_train_batch(step, batch_size).items()}

  def train_batches(self, start: int, stop: int, batch_size: int,
                    process_index: Optional[int] = None,
                    process_count: Optional[int] = None) -> Iterator[tuple[int, dict]]:
    """``(s, train_batch(s, ...))`` for steps start..stop-1, in order; the grain pipeline reads
    them ahead with ``data.threads`` threads (closing the generator stops them)."""
    if self.pipeline == 'grain':
      yield from pipeline_lib.iterate(self.grain_dataset(batch_size, process_index, process_count),
                                      start, stop, self.cfg.get('threads', 4))
      return
    for s in range(start, stop):
      yield s, self.train_batch(s, batch_size, process_index, process_count)

  def grain_dataset(self, batch_size: int, process_index: Optional[int] = None,
                    process_count: Optional[int] = None):
    """The `grain.MapDataset` whose element s is this host's share of training batch s (one per
    (batch size, host), kept)."""
    sl = _host_share(batch_size, process_index, process_count, 'train.batch_size')
    key = (batch_size, sl.start, sl.stop)
    if key not in self._grain:
      self._grain[key] = self._grain_dataset(batch_size, sl)
    return self._grain[key]

  def _grain_dataset(self, batch_size: int, rows: slice):
    """Element s: rows `rows` of the global batch s (a source may read only those)."""
    return pipeline_lib.step_dataset(
        lambda s: {k: v[rows] for k, v in self._global_train_batch(s, batch_size).items()})

  def eval_batches(self, batch_size: int, num_batches: int = 0, draw: int = 0,
                   process_index: Optional[int] = None,
                   process_count: Optional[int] = None) -> Iterator[dict]:
    """The evaluation split in order, in global batches of `batch_size` (the last one padded by
    repetition and flagged by ``batch['mask']``; at most `num_batches` if > 0), this host's share
    of each; `draw` selects the dequantization noise."""
    sl = _host_share(batch_size, process_index, process_count, 'evaluation batch size')
    n = self.eval_size
    total = -(-n // batch_size)
    if num_batches:
      total = min(total, num_batches)
    for b in range(total):
      idx = np.arange(b * batch_size, (b + 1) * batch_size)
      mask = idx < n
      batch = self._global_eval_batch(np.where(mask, idx, idx % n), b, draw)
      batch['mask'] = mask
      yield {k: v[sl] for k, v in batch.items()}

  def eval_array(self, n: int = 0) -> np.ndarray:
    """The first n evaluation examples (all if 0), transformed, for sample-based metrics."""
    return self._eval_examples(min(n or self.eval_size, self.eval_size))

  @functools.lru_cache(maxsize=2)
  def _permutation(self, epoch: int) -> np.ndarray:
    return rng(self.seed, 1, epoch).permutation(self.train_size)

  def _indices(self, step: int, batch_size: int) -> np.ndarray:
    """Example indices of global training batch `step` of a finite source: positions
    step*B..(step+1)*B-1 of the concatenated per-epoch permutations."""
    n = self.train_size
    pos = np.arange(step * batch_size, (step + 1) * batch_size, dtype=np.int64)
    epochs = pos // n
    out = np.empty_like(pos)
    for e in np.unique(epochs):
      sel = epochs == e
      out[sel] = self._permutation(int(e))[pos[sel] % n]
    return out


# name or 'prefix:' -> (factory(cfg, seed) -> Source, how to write the name)
SOURCES: dict[str, tuple[Callable[..., Source], str]] = {}


def register(name: str, factory: Callable[..., Source], usage: str = '') -> None:
  """Registers `factory(cfg, seed) -> Source` under an exact name or a prefix ending in ':';
  `usage` is how the name is written in the error that lists the sources."""
  if name in SOURCES:
    raise ValueError(f'data source {name!r} is registered twice')
  SOURCES[name] = (factory, usage or (name + '<name>' if name.endswith(':') else name))


def available() -> list[str]:
  """How each registered source is named, e.g. ``['digits', 'tfds:<name>', ...]``."""
  return [usage for _, usage in SOURCES.values()]


def build(cfg, seed: int) -> Source:
  """The source named by ``cfg.name`` (``config.data``) with the run's seed."""
  name = cfg.name
  key = name if name in SOURCES else name.split(':', 1)[0] + ':'
  if key not in SOURCES:
    raise ValueError(f'config.data.name={name!r} is not a data source; available: '
                     + ', '.join(available()))
  return SOURCES[key][0](cfg, seed)
