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
evaluates against its own z1.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from typing import Optional

import numpy as np

from jaxgen.data.sources import DataNotFoundError

PREFIX = 'pairs:'
HOW = ('Make one from a trained rectified-flow run with `python -m launch.reflow --workdir RUN '
       '--num N` (it writes RUN/reflow/pairs.npz), then train with '
       '--config.data.name=pairs:RUN/reflow/pairs.npz.')


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
