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
    preview.png        the first chunk's first 64 samples (`viz.save_samples`, a row per class),
    preview.json       sealed by its record (SHA-256; a rerun remakes a preview cut short)
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
the others) and writes (`jaxgen.store.resumable.write`, collectively). Memory on the host: one
chunk.
"""

from __future__ import annotations

from typing import Callable, Optional

import jax
import numpy as np

from jaxgen.runtime import samples as samples_lib
from jaxgen.runtime import viz
from jaxgen.runtime.cli import Failure
from jaxgen.store import paths
from jaxgen.store import resumable
from jaxgen.store import shards

FORMAT = 'jaxgen.samples/1'
PREVIEW, PREVIEW_RECORD = 'preview.png', 'preview.json'
PREVIEW_COUNT = 64
KIND = resumable.Kind(stem='chunk', unit='sample', label='samples', things='samples',
                      rename='--name', derived=(PREVIEW, PREVIEW_RECORD))


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


def preview(run, folder: str, plan: dict, record: dict) -> None:
  """Writes ``preview.png`` from chunk 0 (atomically) and seals it, unless it is sealed already
  for this chunk 0 (a preview cut short by a kill or a full disk is made again)."""
  if shards.sealed(folder, PREVIEW_RECORD, chunk=record['sha256']):
    return
  _, data, _ = shards.verified(folder, record['file'])
  z = shards.load_npz_bytes(data)
  x = z['samples'][:PREVIEW_COUNT]
  labels = z['label'][:PREVIEW_COUNT] if 'label' in z else None
  title = (f'{plan["family"]} step {plan["step"]}, NFE {record.get("nfe")}, first {len(x)} of '
           f'{plan["num"]} (seed {plan["seed"]})')
  viz.save_samples(paths.join(folder, PREVIEW), x, run.data.spec,
                   reference=run.data.eval_array(len(x)) if x.ndim == 2 else None,
                   title=title, labels=labels)
  shards.seal(folder, PREVIEW_RECORD, [PREVIEW], chunk=record['sha256'])


def write_chunks(run, workdir: str, num: int, chunk: int = 1000, seed: int = 0,
                 name: str = 'samples', force: bool = False, draw: Optional[Callable] = None,
                 sampling=None, settings=None) -> str:
  """Writes `num` samples of `run` (``run.params``, `sampling`, default the run's) as the folder
  ``<workdir>/samples/<name>/`` (module docstring), resuming an unfinished one made with the same
  settings, and returns the folder. `draw` is ``(params, rng, n, settings) -> (x, info)`` as
  `samples.sampler` (e.g. `jaxgen.tools.classifier_run.draw_for`'s; default the run's own).
  Refusals (exit 2) happen before anything is written: a bad --num/--chunk, other settings on an
  existing folder (`resumable.Refused`), a sampler that refuses the settings (it is called once
  first)."""
  sampling = run.config.sampling if sampling is None else sampling
  settings = run.model.sampling_settings(sampling) if settings is None else settings
  draw = samples_lib.sampler(run.model, run.mesh) if draw is None else draw
  n_call = effective_chunk(num, chunk, run.mesh.devices.size)
  folder = folder_of(workdir, name)
  plan = plan_of(run, workdir, num, n_call, seed, sampling)
  sizes = shards.sizes(num, n_call)
  key, params = sample_key(run, seed), run.params

  def make(i):
    x, info = draw(params, chunk_key(key, i), n_call, settings)
    arrays, scalars = _split_info(info, n_call, sizes[i])
    x = np.asarray(x[:sizes[i]], np.float32)
    bad = int(np.sum(~np.isfinite(x).all(axis=tuple(range(1, x.ndim)))))
    return dict(samples=x, **arrays), dict(nonfinite=bad, **scalars)

  def index_of(records):
    return dict(plan=plan, chunks=records,
                digest=shards.sha256(''.join(r['sha256'] for r in records).encode()))

  done = resumable.write(folder, KIND, plan, sizes, make, index_of, force=force)
  if done.index is None:   # the processes other than 0
    return folder
  preview(run, folder, plan, done.records[0])
  rate = ''
  if len(done.todo) > 1:   # after the first chunk (its time includes the compilation)
    later = (done.made - sizes[done.todo[0]]) / max(done.seconds - done.first_seconds, 1e-9)
    rate = (f', {later:.0f} samples/s after the first chunk ({done.first_seconds:.1f}s incl. '
            'compilation)')
  bad = sum(int(r.get('nonfinite', 0)) for r in done.index['chunks'])
  warn = f'; WARNING: {bad} samples hold NaN/inf values' if bad else ''
  print(f'Wrote {folder}: {num} samples in {len(sizes)} chunks of {n_call} ({done.made} made, '
        f'{done.kept} kept) in {done.seconds:.1f}s{rate}, from step {run.step} (digest '
        f'{done.index["digest"][:12]}...){warn}', flush=True)
  return folder
