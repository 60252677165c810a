"""Finished folders of in-memory arrays for tests, written by the one resumable writer
(`jaxgen.store.resumable.write`) as the tools write them: `save_samples` (a samples folder of
chunks), `save_pairs` (a reflow pairs folder) and `save_codes` (a VQ-VAE codes folder). An
existing folder is replaced (``force``)."""

import numpy as np

from jaxgen.data import pairs
from jaxgen.store import resumable
from jaxgen.store import shards
from jaxgen.tools import chunked
from jaxgen.tools import reflow


def save_samples(folder: str, x, chunk: int, labels=None, **meta) -> dict:
  """Samples `x` (and their `labels`) as a finished samples folder of chunks of `chunk`; returns
  its index (its plan: `meta` and the format, num, chunk and shape)."""
  x = np.asarray(x, np.float32)
  sizes = shards.sizes(len(x), chunk)
  plan = dict(meta, format=chunked.FORMAT, num=len(x), chunk=int(chunk), shape=list(x.shape[1:]))

  def make(i):
    arrays = dict(samples=x[i * chunk:i * chunk + sizes[i]])
    if labels is not None:
      arrays['label'] = np.asarray(labels)[i * chunk:i * chunk + sizes[i]]
    return arrays, {}

  def index_of(records):
    return dict(plan=plan, chunks=records,
                digest=shards.sha256(''.join(r['sha256'] for r in records).encode()))

  return resumable.write(folder, chunked.KIND, plan, sizes, make, index_of, force=True).index


def save_pairs(folder: str, z0, z1, shard_size: int = 5000, **meta) -> dict:
  """Pairs ``(z0, z1)`` as a finished pairs folder of shards of `shard_size`; returns its index
  (`meta` goes into it)."""
  z0, z1 = np.asarray(z0, np.float32), np.asarray(z1, np.float32)
  sizes = shards.sizes(len(z0), shard_size)
  plan = dict(meta, num=len(z0), shard_size=int(shard_size), shape=list(z0.shape[1:]))

  def make(i):
    part = slice(i * shard_size, i * shard_size + sizes[i])
    return (dict(z0=z0[part], z1=z1[part]),
            dict(z1_min=float(np.min(z1[part])), z1_max=float(np.max(z1[part]))))

  return resumable.write(folder, reflow.KIND, plan, sizes, make,
                         lambda records: pairs.index(plan, records), force=True).index


def save_codes(folder: str, train, test, num_codes: int, labels=None, shard_size: int = 16) -> dict:
  """Code grids ``train`` / ``test`` (int ``[n, h, w]``; ``labels``: ``(train, test)`` int arrays
  or None) as a finished codes folder, as `launch.encode_codes` writes one; returns its index."""
  from jaxgen.data import codes as codes_lib
  from jaxgen.tools import encode_codes

  grids = {'train': np.asarray(train, np.int32), 'test': np.asarray(test, np.int32)}
  per_split = {s: shards.sizes(len(g), shard_size) for s, g in grids.items()}
  sizes = per_split['train'] + per_split['test']
  where = [(s, j) for s in codes_lib.SPLITS for j in range(len(per_split[s]))]
  plan = dict(num_codes=int(num_codes), grid=list(grids['train'].shape[1:]),
              shard_size=int(shard_size), splits={s: len(g) for s, g in grids.items()},
              num_classes=None if labels is None else int(max(map(np.max, labels))) + 1,
              pixels=1, source_workdir='', source_step=0)

  def make(i):
    split, j = where[i]
    part = slice(j * shard_size, j * shard_size + sizes[i])
    arrays = {'codes': grids[split][part]}
    if labels is not None:
      arrays['label'] = np.asarray(labels[codes_lib.SPLITS.index(split)], np.int32)[part]
    hist = np.bincount(arrays['codes'].reshape(-1), minlength=num_codes)
    return arrays, dict(split=split, histogram=hist.tolist(), squared_error=0.0)

  return resumable.write(folder, encode_codes.KIND, plan, sizes, make,
                         lambda records: codes_lib.index(plan, records), force=True).index
