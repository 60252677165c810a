"""Reflow pairs: the ``pairs:<file.npz>`` source of a deterministic coupling (z0, z1).

A pairs file (written by ``python -m launch.reflow``, read here) is an ``.npz`` holding

    z0  float32 [n, *shape]   the noise end (t = 0 in rectified flow's convention)
    z1  float32 [n, *shape]   the data end, z1 = ODE(z0) of the flow that made the pairs
    meta                      a 0-d string: JSON of how they were made (solver, steps, rtol, atol,
                              nfe, source_workdir, source_step, seed, chunk), ``source_config``
                              (the whole config of the source run), ``eval_source`` (``{'data':
                              ..., 'seed': ...}``, the data the source run is evaluated on, with
                              absolute paths) and ``digest`` (see `digest`).

Training batches of this source carry ``x = z1`` and ``x0 = z0`` of the same examples (a k-RF or
distillation loss reads ``batch['x0']``). The evaluation split is the *source run's* evaluation
data, rebuilt from ``meta.eval_source`` (or, in files without it, ``meta.source_config.data`` and
its seed), so a 2-RF run is scored against the real data exactly like the 1-RF run it came from.
Along a reflow chain (pairs of a run that itself trained on pairs) ``eval_source`` is the root
run's data: reading k-RF pairs never opens the files of the earlier rounds. A file without either
evaluates against its own z1. `PairsSource` is the source; its `fingerprint` is the file's
absolute path and `digest`.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from typing import Optional

import ml_collections
import numpy as np

from jaxgen.data import source
from jaxgen.data.loaders import DataNotFoundError

PREFIX = 'pairs:'
HOW = ('Make one from a trained rectified-flow run with `python -m launch.reflow --workdir RUN '
       '--num N` (it writes RUN/reflow/pairs.npz), then train with '
       '--config.data.name=pairs:RUN/reflow/pairs.npz.')
# data.* keys that a pairs: source does not use, with the only values it accepts.
FIXED = {'train_split': 'train', 'eval_split': 'test', 'max_examples': 0}


class Pairs:
  """A loaded pairs file: ``z0``, ``z1`` (float32 [n, *shape]) and the ``meta`` dict."""

  def __init__(self, z0: np.ndarray, z1: np.ndarray, meta: dict):
    self.z0, self.z1, self.meta = z0, z1, meta

  def __len__(self) -> int:
    return len(self.z0)

  @property
  def source_config(self) -> Optional[dict]:
    return self.meta.get('source_config')

  @property
  def eval_source(self) -> Optional[dict]:
    """``{'data': data config dict, 'seed': int}`` of the evaluation data, or None."""
    if 'eval_source' in self.meta:
      return self.meta['eval_source']
    src = self.source_config
    return {'data': src['data'], 'seed': src['seed']} if src else None

  @functools.cached_property
  def digest(self) -> str:
    """`digest` of the arrays (computed from the content, not read from the meta)."""
    return digest(self.z0, self.z1)


def digest(z0: np.ndarray, z1: np.ndarray) -> str:
  """SHA-256 (hex) of the float32 arrays z0 and z1 and their shape: the identity of a coupling,
  recorded by a run that trains on it so that a resume on a replaced file is refused."""
  h = hashlib.sha256()
  for a in (z0, z1):
    a = np.ascontiguousarray(a, np.float32)
    h.update(repr(a.shape).encode())
    h.update(memoryview(a).cast('B'))
  return h.hexdigest()


def save(path: str, z0: np.ndarray, z1: np.ndarray, **meta) -> None:
  """Writes a pairs file atomically (a temporary file renamed into place); the meta gets the
  arrays' ``digest``. Overwrites `path` if it exists (`launch.reflow` refuses unless --force)."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  z0, z1 = np.asarray(z0, np.float32), np.asarray(z1, np.float32)
  meta = dict(meta, digest=digest(z0, z1))
  tmp = path + '.tmp.npz'
  np.savez(tmp, z0=z0, z1=z1, meta=np.array(json.dumps(meta, sort_keys=True)))
  os.replace(tmp, path)


def load(path: str) -> Pairs:
  """Reads and checks a pairs file; a missing or malformed one raises an error saying how to
  make it (`DataNotFoundError` if absent, ValueError if unusable)."""
  if not os.path.isfile(path):
    raise DataNotFoundError(f'data.name=pairs:{path}: no such file. {HOW}')
  try:
    with np.load(path, allow_pickle=False) as f:
      arrays = {k: f[k] for k in f.files}
  except Exception as e:  # not a zip, truncated, pickled objects, ...
    raise ValueError(f'data.name=pairs:{path} is not a readable .npz ({type(e).__name__}: '
                     f'{e}). {HOW}') from e
  missing = [k for k in ('z0', 'z1') if k not in arrays]
  if missing:
    raise ValueError(f'data.name=pairs:{path} lacks {missing} (it holds {sorted(arrays)}); a '
                     f'pairs file holds z0 (noise) and z1 (data) of equal shape [n, ...]. {HOW}')
  z0, z1 = arrays['z0'], arrays['z1']
  if z0.shape != z1.shape or z0.ndim < 2 or not len(z0):
    raise ValueError(f'data.name=pairs:{path}: z0 {z0.shape} and z1 {z1.shape} must have the '
                     f'same shape [n > 0, ...]. {HOW}')
  if not (np.issubdtype(z0.dtype, np.floating) and np.issubdtype(z1.dtype, np.floating)):
    raise ValueError(f'data.name=pairs:{path}: z0/z1 must be floats, got {z0.dtype}/{z1.dtype}. '
                     f'{HOW}')
  if not (np.all(np.isfinite(z0)) and np.all(np.isfinite(z1))):
    raise ValueError(f'data.name=pairs:{path} holds NaN/inf values (the flow that made them '
                     f'diverged?). {HOW}')
  meta = json.loads(str(arrays['meta'])) if 'meta' in arrays else {}
  return Pairs(z0.astype(np.float32), z1.astype(np.float32), meta)


class PairsSource(source.Source):
  """The ``pairs:<file.npz>`` source: training batches ``{'x': z1, 'x0': z0}`` of the same
  examples, in epochs; evaluation on the source run's data (see the module docstring)."""

  def __init__(self, cfg, seed: int):
    super().__init__(cfg, seed)
    name = cfg.name
    if cfg.scale != 'none' or cfg.dequantize or cfg.binarize != 'none' or cfg.flip:
      raise ValueError(f"{name}: pairs are already in the model's space: set data.scale='none' "
                       'and leave dequantize, binarize and flip off')
    # Every pair is a training example and evaluation uses the source run's data: no splits.
    unused = [f'data.{k}={cfg[k]!r}' for k, default in FIXED.items() if cfg[k] != default]
    if unused:
      raise ValueError(f'{name}: {", ".join(unused)} would be ignored (a pairs file has no splits '
                       "and evaluates on its source run's data); leave "
                       + ', '.join(f'data.{k}={v!r}' for k, v in FIXED.items()))
    self._path = name[len(PREFIX):]
    self._pairs = load(self._path)
    z1 = self._pairs.z1
    self._source = None
    src = self._pairs.eval_source
    if src:  # evaluate on the data of the run that made the pairs (the chain's root), its seed
      src_data = ml_collections.ConfigDict(src['data'])
      src_data.eval_size = cfg.eval_size
      self._source = source.build(src_data, int(src['seed']))
      if tuple(self._source.spec.shape) != z1.shape[1:]:
        raise ValueError(f'{name}: pairs of shape {z1.shape[1:]} but their source '
                         f'{src_data.name} has shape {self._source.spec.shape}. {HOW}')
      self.spec = dataclasses.replace(self._source.spec, name=name, num_classes=None)
    else:
      self.spec = source.DataSpec(name, z1.shape[1:], float(z1.min()), float(z1.max()), None,
                                  None, 'none')

  @property
  def train_size(self) -> int:
    return len(self._pairs)

  @property
  def eval_size(self) -> int:
    return self._source.eval_size if self._source else min(len(self._pairs), self.cfg.eval_size)

  @property
  def fingerprint(self) -> dict:
    """The file's absolute path and content digest: a run refuses to resume on other pairs."""
    return {'pairs_file': os.path.abspath(self._path), 'pairs_digest': self._pairs.digest}

  def eval_source(self) -> dict:
    """The source run's (the root of a reflow chain), else this file's, with absolute paths."""
    if self._source is not None:
      return self._source.eval_source()
    own = super().eval_source()
    own['data']['name'] = PREFIX + os.path.abspath(self._path)
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

  def _global_train_batch(self, step, batch_size):
    idx = self._indices(step, batch_size)
    return {'x': self._pairs.z1[idx], 'x0': self._pairs.z0[idx]}

  def _global_eval_batch(self, idx, batch, draw):
    return {'x': self._pairs.z1[idx]}

  def _eval_examples(self, n):
    return self._pairs.z1[:n]


source.register(PREFIX, PairsSource, PREFIX + '<file.npz>')
