"""Code grids of a trained VQ-VAE run: its training and test splits encoded by the frozen
encoder, written as a codes folder (`jaxgen.data.codes`) with bounded memory, resumable.

The splits are the run's data (``config.data``: the same set, scaling and ``max_examples``) read
in order with the deterministic evaluation transforms (no flips; the whole training split,
``data.validation`` examples included). Shard i holds examples i S .. (i+1) S - 1 of its split
(S = the shard size), the training split's shards first. A shard is encoded in calls of B
examples (B = ``batch``; a short last call padded to B: one compilation), each
``codes = argmin_i ||z_e(x) - e_i||`` of the run's evaluation parameters (EMA if its
``eval.use_ema``): a function of the run, its step and the examples only, so a resumed encoding
writes exactly the bytes of an uninterrupted one. Each shard's record holds its code histogram
and the squared error of the decoded images against the data (on [0, 1]), from which the index
reports per split the codebook usage, the perplexity and the reconstruction MSE.

The folder is written by the one resumable writer (`jaxgen.store.resumable.write`): ``plan.json``
first (another plan on an unfinished folder is refused unless --force), each shard and its record,
``index.json`` last; a rerun keeps every shard whose SHA-256 matches its record and makes the
rest; a finished folder with the same plan is only verified.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen import data as data_lib
from jaxgen.data import codes as codes_lib
from jaxgen.runtime import config as cfg_lib
from jaxgen.runtime.cli import Failure
from jaxgen.store import paths
from jaxgen.store import resumable
from jaxgen.store import shards

KIND = resumable.Kind(stem=codes_lib.STEM, unit='grid', label='codes', things='code grids',
                      rename='--out')


def default_out(workdir: str) -> str:
  return paths.join(workdir, 'codes')


def split_source(run, split: str):
  """The run's data with `split` ('train' | 'test') as its evaluation split, read in order."""
  data = run.config.data.copy_and_resolve_references()
  with data.unlocked():
    if split == 'train':
      data.eval_split = data.train_split
    data.validation = 0
  return data_lib.build(data, run.config.seed)


def check(run, workdir: str, shard: int, batch: int, out: str) -> None:
  """Raises `Failure` (nothing written) for a run without codes or a degenerate request."""
  if 'encode' not in run.model.extras:
    raise Failure(f'{workdir} is a {run.config.model.family} run; code grids need a vqvae run '
                  '(a model with an `encode` extra)')
  problems = []
  if shard <= 0 or batch <= 0:
    problems.append('--shard and --batch must be > 0')
  if paths.isfile(out):
    problems.append(f'--out={out} is a file; give a folder (a new one is created)')
  if problems:
    raise Failure('\nerror: '.join(problems))


def encode_codes(run, workdir: str, shard: int = 10000, batch: int = 500, out: str = '',
                 force: bool = False) -> str:
  """Writes the codes folder `out` (default ``<workdir>/codes``) of the VQ-VAE `run`, resuming an
  unfinished one made with the same plan, and returns the folder (module docstring)."""
  out = out or default_out(workdir)
  check(run, workdir, shard, batch, out)
  model, spec = run.model, run.data.spec
  sources = {s: split_source(run, s) for s in codes_lib.SPLITS}
  sizes_of = {s: sources[s].eval_size for s in codes_lib.SPLITS}
  plan = dict(num_codes=int(model.extras['num_codes']()), grid=list(model.extras['grid']()),
              shard_size=int(shard), batch=int(batch), splits=sizes_of,
              num_classes=spec.num_classes, pixels=int(spec.dim),
              use_ema=bool(run.config.eval.use_ema), source_workdir=paths.abspath(workdir),
              source_step=run.step, source_config=cfg_lib.validate(run.config).to_dict())
  per_split = {s: shards.sizes(n, shard) for s, n in sizes_of.items()}
  sizes = per_split['train'] + per_split['test']
  where = [('train', j) for j in range(len(per_split['train']))] + [
      ('test', j) for j in range(len(per_split['test']))]
  scale = float(spec.high - spec.low)

  @jax.jit
  def encode(params, x):
    codes = model.extras['encode'](params, x)
    err = jnp.sum(((model.extras['decode'](params, codes) - x) / scale) ** 2,
                  axis=tuple(range(1, x.ndim)))
    return codes, err

  readers: dict = {}

  def shard_batch(split: str, j: int) -> dict:
    """Batch j of `split` in global batches of the shard size (one pass per split, in order)."""
    pos, it = readers.get(split, (0, None))
    if it is None or j < pos:
      pos, it = 0, sources[split].eval_batches(shard, 0, 0, 0, 1)
    for _ in range(j - pos):
      next(it)
    b = next(it)
    readers[split] = (j + 1, it)
    return {k: v[b['mask']] for k, v in b.items() if k != 'mask'}

  def make(i):
    split, j = where[i]
    b = shard_batch(split, j)
    x, n = np.asarray(b['x'], np.float32), sizes[i]
    codes, err = [], []
    for start in range(0, n, batch):
      part = x[start:start + batch]
      pad = batch - len(part)
      c, e = jax.device_get(encode(run.params, np.concatenate(
          [part, np.repeat(part[:1], pad, 0)]) if pad else part))
      codes.append(c[:len(part)])
      err.append(e[:len(part)])
    codes = np.concatenate(codes).astype(np.int32)
    arrays = {'codes': codes}
    if 'label' in b:
      arrays['label'] = np.asarray(b['label'], np.int32)
    hist = np.bincount(codes.reshape(-1), minlength=plan['num_codes'])
    return arrays, dict(split=split, histogram=hist.tolist(),
                        squared_error=float(np.sum(np.concatenate(err), dtype=np.float64)))

  done = resumable.write(out, KIND, plan, sizes, make,
                         lambda records: codes_lib.index(plan, records), force=force)
  if jax.process_index() != 0:
    return out
  s = done.index['splits']
  print(f'Wrote {out}: {s["train"]["num"]} training and {s["test"]["num"]} test grids of '
        f'{plan["grid"][0]}x{plan["grid"][1]} codes (K = {plan["num_codes"]}) in {len(sizes)} '
        f'shards ({done.made} made, {done.kept} kept) in {done.seconds:.1f}s from step '
        f'{run.step}; test usage {s["test"]["usage"]:.3f}, perplexity '
        f'{s["test"]["perplexity"]:.1f}, reconstruction MSE {s["test"]["recon_mse"]:.5f} '
        f'(digest {done.index["digest"][:12]}...)', flush=True)
  return out
