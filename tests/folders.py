"""Finished folders of in-memory arrays for tests, written by the one resumable writer
(`jaxgen.store.resumable.write`) as `jaxgen.tools.chunked` and `jaxgen.tools.reflow` write them:
`save_samples` (a samples folder of chunks) and `save_pairs` (a reflow pairs folder). An existing
folder is replaced (``force``)."""

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
