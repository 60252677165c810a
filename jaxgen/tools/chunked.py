"""Large-N sampling: N samples of a run drawn in chunks, written as a resumable folder, and read
back one chunk at a time (metrics over 50k samples never hold them all).

    python -m launch.sample --workdir DIR --num 50000 [--chunk 1000] [--seed 0] [--force]

writes ``DIR/samples/<name>/`` (`write_chunks`; default name as launch.sample's picture):

    plan.json          how the samples are made: the run's family, its whole ``sampling`` section
                       (classifier guidance and label keys included), num, chunk, seed, the
                       checkpoint step, use_ema, the sample shape and the run's workdir. Written
                       before the first chunk; a rerun must match it.
    chunk_00000.npz    ``samples`` [m, *shape] float32 (m = chunk, the last one the rest) and the
                       sampler's per-sample info (``label`` [m] of class-conditional or guided
                       samples); byte-deterministic (`shards.npz_bytes`)
    chunk_00000.json   its record: index, num, bytes, SHA-256, nfe, nonfinite (samples holding
                       NaN/inf: written all the same, counted in the final line)
    preview.png        the first chunk's first 64 samples (`viz.save_samples`, a row per class)
    index.json         written last: the plan, every record and ``digest`` (SHA-256 of the
                       chunks' SHA-256s: the identity of the sample set)

Keys and determinism: the run's sample key is ``fold_in(run.sample_rng(step), seed)`` and chunk i
is ONE jit call of ``chunk`` samples with ``fold_in(sample_key, i)`` (the last chunk is padded to
``chunk`` samples and cut: one compilation for all chunks), batch-sharded over all devices
(``chunk`` must be a multiple of their number). So chunk i is a pure function of (the run, its
sampling section, seed, chunk, i), and a resumed run writes exactly the bytes of an uninterrupted
one. With ``sampling.label = -1`` (all classes in turn) each chunk holds the classes in blocks of
``ceil(chunk / classes)`` (`jaxgen.diffusion.classifier_free.sample_labels` of the chunk), so a
chunk size that the number of classes divides gives every class equally often.

Resume: a rerun with the same settings keeps every chunk whose record exists and whose file's
SHA-256 matches it (one read of each), prints one line for a damaged chunk (a flipped byte) and
makes it again (the same bytes, since a chunk is deterministic), and makes the missing ones; on a
finished folder it only verifies. Other settings on an existing folder are refused (one line
naming the differing keys, nothing written) unless ``force`` (the folder's files are deleted and
it starts over). Over processes: every process draws every chunk (sharded over all devices of all
processes, gathered to each), process 0 alone reads the folder, decides what to make (broadcast to
the others) and writes, as `samples.write`. Memory on the host: one chunk.
"""

from __future__ import annotations

import re
import time
from typing import Callable, Iterator, Optional

import jax
import numpy as np

from jaxgen.metrics import frechet
from jaxgen.runtime import parallel
from jaxgen.runtime import samples as samples_lib
from jaxgen.runtime import viz
from jaxgen.runtime.cli import Failure
from jaxgen.store import paths
from jaxgen.store import shards

FORMAT = 'jaxgen.samples/1'
PREVIEW = 'preview.png'
PREVIEW_COUNT = 64
# The files of a samples folder that a --force rerun deletes (nothing else is ever removed).
_OURS = re.compile(r'^(index\.json|plan\.json|preview\.png|chunk_\d{5}\.(npz|json))(\.tmp\d+)?$')
_TMP = re.compile(r'\.tmp\d+$')


def chunk_name(i: int) -> str:
  return f'chunk_{i:05d}.npz'


def chunk_sizes(num: int, chunk: int) -> list[int]:
  """Samples per chunk: `chunk` each, the last one the rest."""
  return [min(chunk, num - s) for s in range(0, num, chunk)]


def folder_of(workdir: str, name: str) -> str:
  return paths.join(workdir, 'samples', name)


def sample_key(run, seed: int) -> jax.Array:
  """The run's sample key of this folder: ``fold_in(run.sample_rng(run.step), seed)``."""
  return jax.random.fold_in(run.sample_rng(run.step), int(seed))


def chunk_key(key: jax.Array, i: int) -> jax.Array:
  return jax.random.fold_in(key, int(i))


def effective_chunk(num: int, chunk: int, devices: int) -> int:
  """The samples per call: `chunk`, or fewer for a small `num` (num rounded up to a multiple of
  the devices). Refuses (one line) a chunk that the devices do not divide."""
  if num <= 0 or chunk <= 0:
    raise Failure(f'--num={num} and --chunk={chunk} must be > 0')
  if chunk % devices:
    fit = max(devices, chunk // devices * devices)
    raise Failure(f'--chunk={chunk} is not a multiple of the {devices} devices (each device draws '
                  f'chunk/{devices} samples of every chunk); use e.g. --chunk={fit}')
  return min(chunk, -(-num // devices) * devices)


def plan_of(run, workdir: str, num: int, chunk: int, seed: int, sampling) -> dict:
  """How the samples are made (``plan.json``; the index holds it too): a rerun must match it."""
  return dict(format=FORMAT, family=run.config.model.family, sampling=sampling.to_dict(),
              num=int(num), chunk=int(chunk), seed=int(seed), step=run.step,
              use_ema=bool(run.config.eval.use_ema), shape=list(run.data.spec.shape),
              workdir=paths.abspath(workdir))


def clear(folder: str) -> None:
  """Deletes the samples files in `folder` (only those: a mistaken --name loses nothing else)."""
  if paths.isdir(folder):
    for name in paths.listdir(folder):
      if _OURS.match(name):
        paths.remove(paths.join(folder, name))


def _refusal(folder: str, plan: dict) -> Optional[str]:
  """Why the settings of `plan` may not continue in `folder` (None: they may)."""
  for file, what in ((shards.INDEX, 'finished'), (shards.PLAN, 'unfinished')):
    if not paths.isfile(paths.join(folder, file)):
      continue
    old = shards.read_json(paths.join(folder, file)) or {}
    old = old.get('plan', old) if file == shards.INDEX else old
    diff = shards.differing_keys(old, plan)
    if diff:
      shown = ', '.join(diff[:4]) + (' ...' if len(diff) > 4 else '')
      return (f'{folder} holds {what} samples made with other settings ({shown} differ); rerun '
              'with the same flags to resume or verify them, choose another --name, or pass '
              '--force to start over')
    return None
  return None


def _todo(folder: str, sizes: list[int]) -> tuple[dict, list[int]]:
  """``(records of the finished chunks, indices to make)``; a damaged chunk gets one line."""
  records, todo = {}, []
  for i, size in enumerate(sizes):
    rec, _, why = shards.verified(folder, chunk_name(i), index=i, num=size)
    if rec is None:
      todo.append(i)
      if why:
        print(f'samples: {folder}/{chunk_name(i)}: {why}; it is made again', flush=True)
    else:
      records[i] = rec
  return records, todo


def _agree(status: int, todo: list[int], n_chunks: int) -> tuple[int, list[int]]:
  """Process 0's ``(status, todo)`` on every process (a collective with several processes)."""
  if jax.process_count() == 1:
    return status, todo
  from jax.experimental import multihost_utils
  mask = np.zeros(n_chunks + 1, np.int32)
  mask[0] = status
  mask[1 + np.asarray(todo, np.int64)] = 1
  mask = np.asarray(multihost_utils.broadcast_one_to_all(mask))
  return int(mask[0]), [int(i) for i in np.flatnonzero(mask[1:])]


def _split_info(info: dict, n_call: int, size: int) -> tuple[dict, dict]:
  """``(per-sample arrays cut to `size`, scalars as Python numbers)`` of a sampler's info."""
  arrays, scalars = {}, {}
  for k, v in info.items():
    v = np.asarray(v)
    if v.ndim == 0:
      scalars[k] = v.item()
    elif v.shape[0] == n_call:
      arrays[k] = v[:size]
    else:
      arrays[k] = v
  return arrays, scalars


def _preview(run, folder: str, plan: dict, data: bytes, nfe) -> None:
  z = shards.load_npz_bytes(data)
  x = z['samples'][:PREVIEW_COUNT]
  labels = z['label'][:PREVIEW_COUNT] if 'label' in z else None
  title = (f'{plan["family"]} step {plan["step"]}, NFE {nfe}, first {len(x)} of {plan["num"]} '
           f'(seed {plan["seed"]})')
  viz.save_samples(paths.join(folder, PREVIEW), x, run.data.spec,
                   reference=run.data.eval_array(len(x)) if x.ndim == 2 else None,
                   title=title, labels=labels)


def _open_folder(folder: str, plan: dict, force: bool) -> None:
  """Makes the folder ready for chunks: emptied of our files if `force`, temporary files of a
  killed write removed, ``plan.json`` (re)written."""
  if force:
    clear(folder)
  paths.makedirs(folder)
  for f in paths.listdir(folder):
    if _TMP.search(f) and _OURS.match(f):
      paths.remove(paths.join(folder, f))
  paths.write_atomic(paths.join(folder, shards.PLAN), shards.json_text(plan))


def write_chunks(run, workdir: str, num: int, chunk: int = 1000, seed: int = 0,
                 name: str = 'samples', force: bool = False, draw: Optional[Callable] = None,
                 sampling=None, settings=None) -> str:
  """Writes `num` samples of `run` (``run.params``, `sampling`, default the run's) as the folder
  ``<workdir>/samples/<name>/`` (module docstring), resuming an unfinished one made with the same
  settings, and returns the folder. `draw` is ``(params, rng, n, sampling) -> (x, info)`` as
  `samples.sampler` (e.g. `guidance.draw_for`'s classifier-guided one; default the run's own).
  Refusals (`Failure`, exit 2) happen before anything is written: a bad --num/--chunk, other
  settings on an existing folder, a sampler that refuses the settings (it is called once first)."""
  sampling = run.config.sampling if sampling is None else sampling
  settings = run.model.sampling_settings(sampling) if settings is None else settings
  draw = samples_lib.sampler(run.model, run.mesh) if draw is None else draw
  n_call = effective_chunk(num, chunk, run.mesh.devices.size)
  folder = folder_of(workdir, name)
  plan = plan_of(run, workdir, num, n_call, seed, sampling)
  sizes = chunk_sizes(num, n_call)
  writer = jax.process_index() == 0

  status, records, todo, why = 0, {}, list(range(len(sizes))), ''
  if writer:
    why = '' if force else _refusal(folder, plan)
    if why:
      status = 2
    elif not force:
      records, todo = _todo(folder, sizes)
  status, todo = _agree(status, todo, len(sizes))
  if status:
    raise Failure(why or 'process 0 refused these settings (see its error line)')

  key = sample_key(run, seed)
  params = run.params
  kept = sum(sizes[i] for i in records)
  if records:
    print(f'samples: resuming {folder}: {len(records)} finished chunks kept ({kept} samples, '
          f'SHA-256 checked), {len(todo)} to make', flush=True)
  bar = shards.Progress(num, kept, 'samples', 'sample', 'chunk', quiet=not writer)
  t0, t_first, nfe = time.perf_counter(), None, None
  try:
    for n, i in enumerate(todo):
      x, info = draw(params, chunk_key(key, i), n_call, settings)
      arrays, scalars = _split_info(info, n_call, sizes[i])
      nfe = scalars.get('nfe')
      if n == 0 and writer:  # the sampler accepted the settings: now the folder may be written
        _open_folder(folder, plan, force)
      if writer:
        x = np.asarray(x[:sizes[i]], np.float32)
        data = shards.npz_bytes(samples=x, **arrays)
        records[i] = shards.write_with_record(folder, chunk_name(i), data, index=i,
                                              num=sizes[i], nonfinite=int(np.sum(
                                                  ~np.isfinite(x).all(axis=tuple(
                                                      range(1, x.ndim))))), **scalars)
        if i == 0:
          _preview(run, folder, plan, data, nfe)
      bar.update(sizes[i], i, f'/{len(sizes)}', f'NFE {nfe}, ' if nfe is not None else '')
      if n == 0:
        t_first = time.perf_counter() - t0
  finally:
    bar.close()
  seconds = time.perf_counter() - t0
  made = sum(sizes[i] for i in todo)
  if not writer:
    return folder
  if not todo:
    _open_folder(folder, plan, force=False)   # a finished folder: only its plan is rewritten
  if 0 not in todo and not paths.isfile(paths.join(folder, PREVIEW)):
    _, data, _ = shards.verified(folder, chunk_name(0))
    if data is not None:
      _preview(run, folder, plan, data, records[0].get('nfe'))
  ordered = [records[i] for i in range(len(sizes))]
  digest = shards.sha256(''.join(r['sha256'] for r in ordered).encode())
  paths.write_atomic(paths.join(folder, shards.INDEX),
                     shards.json_text(dict(plan=plan, chunks=ordered, digest=digest)))
  rate = ''
  if len(todo) > 1:   # after the first chunk (its time includes the compilation)
    rate = (f', {(made - sizes[todo[0]]) / max(seconds - t_first, 1e-9):.0f} samples/s after '
            f'the first chunk ({t_first:.1f}s incl. compilation and the preview)')
  bad = sum(int(r.get('nonfinite', 0)) for r in ordered)
  warn = f'; WARNING: {bad} samples hold NaN/inf values' if bad else ''
  print(f'Wrote {folder}: {num} samples in {len(sizes)} chunks of {n_call} ({made} made, {kept} '
        f'kept) in {seconds:.1f}s{rate}, from step {run.step} (digest {digest[:12]}...){warn}',
        flush=True)
  return folder


def gaussian_stats(folder: str, features: Optional[Callable] = None) -> frechet.GaussianStats:
  """Streaming `frechet.GaussianStats` of ``features(chunk)`` [m, d] over the chunks of `folder`
  (default features: each sample flattened), never more than one chunk in memory; its
  ``finalize()`` equals the one-shot statistics of all samples up to round-off."""
  features = features or (lambda x: np.reshape(x, (len(x), -1)))
  stats = None
  for x in shards.iterate(folder):
    f = np.asarray(features(x))
    stats = (frechet.gaussian_stats(f.shape[1]) if stats is None else stats).update(f)
  return stats


def save(folder: str, x, chunk: int, labels=None, **meta) -> dict:
  """Writes in-memory samples `x` as a finished samples folder of chunks of `chunk` (tests,
  converting a single .npz; `write_chunks` writes chunk by chunk) and returns its index."""
  x = np.asarray(x, np.float32)
  paths.makedirs(folder)
  records = []
  for i, start in enumerate(range(0, len(x), chunk)):
    arrays = dict(samples=x[start:start + chunk])
    if labels is not None:
      arrays['label'] = np.asarray(labels)[start:start + chunk]
    data = shards.npz_bytes(**arrays)
    records.append(shards.write_with_record(folder, chunk_name(i), data, index=i,
                                            num=len(arrays['samples'])))
  plan = dict(meta, format=FORMAT, num=len(x), chunk=int(chunk), shape=list(x.shape[1:]))
  index = dict(plan=plan, chunks=records,
               digest=shards.sha256(''.join(r['sha256'] for r in records).encode()))
  paths.write_atomic(paths.join(folder, shards.INDEX), shards.json_text(index))
  return index
