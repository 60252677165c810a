"""Reflow pairs: the deterministic coupling (z0, z1 = ODE(z0)) of a trained rectified-flow run,
written as a folder of shards (`jaxgen.data.pairs`) with bounded memory, resumable after a kill.

z0 ~ N(0, I) is integrated from t = 0 (noise) to t = 1 (data) with ``run.params`` and the run's
``sampling`` config (any `jaxgen.ode.solvers` solver). Shard i holds pairs i*S .. (i+1)*S-1 (S
the shard size; the last shard the rest) and is made in chunks of C pairs: chunk c of shard i is
one jit-compiled call with the key ``fold_in(fold_in(PRNGKey(seed), i), c)``, sharded over the
devices along the batch when they divide C (a short last chunk is padded to C: one compilation).
So shard i is a pure function of (seed, i, C, the run and its sampling): a resumed or
multi-process generation writes exactly the bytes of an uninterrupted one
(`jaxgen.store.shards.npz_bytes`).

Folder protocol (see `jaxgen.data.pairs`): ``plan.json`` first (a rerun must match it, else it
is refused unless --force), then each shard file (atomically: a temporary file renamed, so a
killed write leaves no half shard) followed by its record ``shard_i.json``; ``index.json`` last,
by process 0, once every shard exists. A rerun after a kill keeps every shard whose record
exists and whose file's SHA-256 matches it (one hash pass over each kept shard), and makes the
rest. Over processes: shard i belongs to process ``i % process_count``; each process makes its
own shards on its own devices (no collectives), then they meet at a barrier and process 0 writes
the index. Memory: one shard on the host (plus one chunk on the devices), whatever the number of
pairs.
"""

from __future__ import annotations

import json
import re
import resource
import time
from typing import Optional

import jax
import numpy as np
from jax.sharding import Mesh

from jaxgen.data import pairs
from jaxgen.runtime import compile_options
from jaxgen.runtime import config as cfg_lib
from jaxgen.runtime import parallel
from jaxgen.runtime.cli import Failure
from jaxgen.store import paths
from jaxgen.store import shards

# The files of a pairs folder that a --force rerun may delete (nothing else is ever removed).
_OURS = re.compile(r'^(index\.json|plan\.json|shard_\d{5}\.(npz|json))(\.tmp\d+)?$')
_TMP = re.compile(r'^shard_(\d{5})\.(npz|json)\.tmp\d+$')


def pair_function(run, n: int, sampling, mesh: Optional[Mesh] = None):
  """The jit-compiled ``(params, rng) -> (z0 [n, ...], z1 [n, ...], info)`` of the run's coupling,
  with z0 and z1 sharded over `mesh` (default the run's) along the batch when its devices divide
  `n` (each device draws and integrates its share), else replicated; compiled as the run's
  samples are (`compile_options.sampling_options`)."""
  mesh = run.mesh if mesh is None else mesh
  coupling = run.model.extras['coupling']
  rep = parallel.replicated(mesh)
  out = parallel.batch_sharding(mesh) if n % mesh.devices.size == 0 else rep
  return jax.jit(lambda p, r: coupling(p, r, n, sampling), out_shardings=(out, out, rep),
                 compiler_options=compile_options.sampling_options(run.model, sampling))


def default_out(workdir: str) -> str:
  return paths.join(workdir, 'reflow', 'pairs')


def check(run, workdir: str, num: int, shard: int, chunk: int, out: str) -> None:
  """Raises `Failure` (nothing written) for a run without a coupling or a degenerate request."""
  if 'coupling' not in run.model.extras:
    raise Failure(f'{workdir} is a {run.config.model.family} run; reflow pairs need a '
                  'rectified_flow run (a model with a `coupling` extra)')
  s = run.config.sampling
  problems = []
  if num <= 0 or shard <= 0:
    problems.append('--num and --shard must be > 0')
  if chunk < 0:
    problems.append('--chunk must be >= 0 (0: one call per shard)')
  if float(s.t_start) != 0.0:
    problems.append(f'sampling.t_start={s.t_start}: reflow pairs start at t = 0 (z0 ~ N(0, I) is '
                    'the noise end of the coupling); leave --config.sampling.t_start=0')
  if out.endswith('.npz'):
    problems.append(f'--out={out}: pairs are a folder of shards now (index.json, shard_*.npz); '
                    'give a folder, e.g. --out RUN/reflow/pairs')
  elif paths.isfile(out):
    problems.append(f'--out={out} is a file; give a folder (a new one is created)')
  if problems:
    raise Failure('\nerror: '.join(problems))


def plan_of(run, workdir: str, num: int, shard: int, chunk: int, seed: int) -> dict:
  """How the pairs are made (``plan.json``; the index holds it too): a rerun must match it."""
  s, config = run.config.sampling, run.config
  return dict(solver=s.solver, steps=int(s.steps), grid=s.grid, rtol=float(s.rtol),
              atol=float(s.atol), t_start=float(s.t_start), num=int(num), shard_size=int(shard),
              chunk=int(chunk), seed=int(seed), shape=list(run.data.spec.shape),
              use_ema=bool(config.eval.use_ema), source_workdir=paths.abspath(workdir),
              source_step=run.step, source_config=cfg_lib.validate(config).to_dict(),
              eval_source=run.data.eval_source())


def clear(out: str) -> None:
  """Deletes the pairs files in `out` (index, plan, shards, records, temporary files): only
  those, so a mistaken --out never loses anything else."""
  if paths.isdir(out):
    for name in paths.listdir(out):
      if _OURS.match(name):
        paths.remove(paths.join(out, name))


def finished(out: str, i: int, size: int) -> Optional[dict]:
  """Shard i's record if the shard is complete: its record exists and the file's SHA-256 and
  size match it (one read of the file); else None."""
  rec_path = paths.join(out, pairs.record_name(i))
  if not paths.isfile(rec_path) or not paths.isfile(paths.join(out, pairs.shard_name(i))):
    return None
  try:
    rec = json.loads(paths.read_text(rec_path))
  except ValueError:
    return None
  data = paths.read_bytes(paths.join(out, pairs.shard_name(i)))
  ok = rec.get('num') == size and rec.get('sha256') == pairs.sha256(data)
  return rec if ok else None


def _write_shard(out: str, i: int, z0: np.ndarray, z1: np.ndarray, nfe: int) -> dict:
  """Shard i and then its record, each atomically (the record marks the shard finished)."""
  data = shards.npz_bytes(z0=np.asarray(z0, np.float32), z1=np.asarray(z1, np.float32))
  paths.write_atomic(paths.join(out, pairs.shard_name(i)), data)
  rec = pairs.shard_record(i, data, z1, nfe=int(nfe))
  paths.write_atomic(paths.join(out, pairs.record_name(i)), shards.json_text(rec))
  return rec


def make_pairs(run, workdir: str, num: int, shard: int = 5000, seed: int = 0, out: str = '',
               force: bool = False, chunk: int = 0, process_index: Optional[int] = None,
               process_count: Optional[int] = None) -> str:
  """Writes `num` pairs of the run's coupling as a pairs folder `out` (default
  ``<workdir>/reflow/pairs``), resuming an unfinished one made with the same plan, and returns
  the folder. `chunk` pairs per jit call (0: the shard size). This process makes the shards
  i with ``i % process_count == process_index`` (default: JAX's); process 0 writes the index
  once all exist. Refusals (`check`, a finished folder without `force`, an unfinished one with
  another plan, a solver that made no evaluation) raise `Failure` before anything is written;
  non-finite pairs stop it (exit 1) with the finished shards kept."""
  out = out or default_out(workdir)
  check(run, workdir, num, shard, chunk, out)
  chunk = min(chunk or shard, shard)
  pi = jax.process_index() if process_index is None else int(process_index)
  pc = jax.process_count() if process_count is None else int(process_count)
  plan = plan_of(run, workdir, num, shard, chunk, seed)
  index_path, plan_path = paths.join(out, pairs.INDEX), paths.join(out, pairs.PLAN)
  if paths.isfile(index_path) and not force:
    raise Failure(f'{out} holds finished pairs (runs may train on them: they record their digest '
                  'and would refuse to resume on other pairs); choose another --out, or pass '
                  '--force to replace them')
  if paths.isfile(plan_path) and not force:
    try:
      old = json.loads(paths.read_text(plan_path))
    except ValueError:
      old = {}
    diff = shards.differing_keys(old, plan)
    if diff:
      raise Failure(f'{out} holds an unfinished pair generation made with other settings '
                    f'({", ".join(diff[:4])}{" ..." if len(diff) > 4 else ""} differ); rerun '
                    'with the same flags to resume it, or pass --force to start over')
  if force and pi == 0:
    clear(out)
  _barrier('reflow_clear', pc)
  paths.makedirs(out)
  # Every process may try; the text is the same.
  if not paths.create_exclusive(plan_path, shards.json_text(plan)):
    if shards.differing_keys(json.loads(paths.read_text(plan_path)), plan):
      raise Failure(f'{out}/plan.json was just written with other settings by another process')
  sizes = pairs.shard_sizes(num, shard)
  mine = [i for i in range(len(sizes)) if i % pc == pi]
  for name in paths.listdir(out):   # temporary files of this process's shards (a killed write)
    m = _TMP.match(name)
    if m and int(m.group(1)) % pc == pi:
      paths.remove(paths.join(out, name))

  t0 = time.perf_counter()
  records, todo = {}, []
  for i in mine:
    rec = finished(out, i, sizes[i])
    if rec is None:
      todo.append(i)
    else:
      records[i] = rec
  prefix = f'[process {pi}/{pc}] ' if pc > 1 else ''
  kept = sum(sizes[i] for i in records)
  if records:
    print(f'{prefix}reflow: resuming {out}: {len(records)} finished shards kept ({kept} pairs, '
          f'SHA-256 checked), {len(todo)} to make', flush=True)
  if todo:
    if jax.process_count() > 1:   # this process's devices only: no collectives between shards
      mesh = Mesh(np.array(jax.local_devices()), ('data',))
      params = jax.device_put(parallel.to_host(run.params), parallel.replicated(mesh))
    else:
      mesh, params = run.mesh, run.params
    make = pair_function(run, chunk, run.model.sampling_settings(run.config.sampling), mesh)
    key = jax.random.PRNGKey(seed)
    bar = shards.Progress(sum(sizes[i] for i in mine), kept, 'reflow', 'pair', 'shard', prefix)
    try:
      for i in todo:
        z0 = np.empty((sizes[i],) + tuple(plan['shape']), np.float32)
        z1, nfes = np.empty_like(z0), []
        for c, start in enumerate(range(0, sizes[i], chunk)):
          a0, a1, info = jax.device_get(make(params, jax.random.fold_in(
              jax.random.fold_in(key, i), c)))
          stop = min(start + chunk, sizes[i])   # the last call is padded to `chunk` pairs
          z0[start:stop], z1[start:stop] = a0[:stop - start], a1[:stop - start]
          nfes.append(int(info['nfe']))
        if min(nfes) < 1:
          raise Failure(f'the solver made {min(nfes)} velocity evaluations (z1 = z0, not a '
                        'coupling); nothing was written')
        if not (np.all(np.isfinite(z0)) and np.all(np.isfinite(z1))):
          raise Failure(f'the ODE produced NaN/inf values in shard {i}; it was not written '
                        f'({len(records)} finished shards are kept)', code=1)
        records[i] = _write_shard(out, i, z0, z1, max(nfes))
        bar.update(sizes[i], i, extra=f'NFE {max(nfes)}, ')
    finally:
      bar.close()
  made = sum(sizes[i] for i in todo)
  seconds = time.perf_counter() - t0
  _barrier('reflow_shards', pc)
  if pi != 0:
    print(f'{prefix}reflow: {len(mine)} shards of {out} ready ({made} pairs made in '
          f'{seconds:.1f}s); process 0 writes the index', flush=True)
    return out
  all_records = []
  missing = []
  for i, size in enumerate(sizes):
    if i in records:
      all_records.append(records[i])
      continue
    rec_path = paths.join(out, pairs.record_name(i))
    rec = json.loads(paths.read_text(rec_path)) if paths.isfile(rec_path) else None
    if rec is None or rec.get('num') != size:
      missing.append(i)
    else:
      all_records.append(rec)
  if missing:
    raise Failure(f'{out}: shards {missing[:8]}{" ..." if len(missing) > 8 else ""} are not made '
                  f'yet (shard i belongs to process i % {pc}); run the other processes, or rerun '
                  'this command as one process to make them', code=1)
  nfe = [r['nfe'] for r in all_records]
  index = pairs.index(dict(plan, nfe=max(nfe), nfe_mean=float(np.mean(nfe))), all_records)
  paths.write_atomic(index_path, shards.json_text(index))
  rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # KiB on Linux -> MiB
  print(f'Wrote {out}: {num} pairs in {len(sizes)} shards of {shard} ({made} made, {kept} kept) '
        f'in {seconds:.1f}s, {made / max(seconds, 1e-9):.0f} pairs/s, {plan["solver"]} NFE '
        f'{max(nfe)}, from step {run.step}, peak RSS {rss:.0f} MiB (digest '
        f'{index["digest"][:12]}...)', flush=True)
  return out


def _barrier(name: str, process_count: int) -> None:
  """All processes of a multi-process JAX run meet here (nothing with one process, or when the
  processes were not started by jax.distributed: then `process_count` was injected)."""
  if jax.process_count() > 1 and process_count == jax.process_count():
    from jax.experimental import multihost_utils
    multihost_utils.sync_global_devices(name)


def save(folder: str, z0, z1, shard_size: int = 5000, **meta) -> dict:
  """Writes in-memory pairs as a finished pairs folder (small sets, tests, `convert`;
  `make_pairs` writes shard by shard) and returns its index; `meta` goes into the index."""
  z0, z1 = np.asarray(z0, np.float32), np.asarray(z1, np.float32)
  paths.makedirs(folder)
  records = []
  for i, start in enumerate(range(0, len(z0), shard_size)):
    a0, a1 = z0[start:start + shard_size], z1[start:start + shard_size]
    data = shards.npz_bytes(z0=np.asarray(a0, np.float32), z1=np.asarray(a1, np.float32))
    paths.write_atomic(paths.join(folder, pairs.shard_name(i)), data)
    records.append(pairs.shard_record(i, data, a1))
  plan = dict(meta, num=len(z0), shard_size=int(shard_size), shape=list(z0.shape[1:]))
  index = pairs.index(plan, records)
  paths.write_atomic(paths.join(folder, pairs.INDEX), shards.json_text(index))
  return index


def convert(path: str, folder: str = '', shard_size: int = 5000) -> str:
  """Converts a single-file ``pairs.npz`` of an earlier version into a pairs folder (default:
  the path without ``.npz``) and returns the folder."""
  folder = folder or path[:-4]
  z = paths.load_npz(path)
  meta = json.loads(str(z['meta'])) if 'meta' in z else {}
  meta.pop('digest', None)
  save(folder, z['z0'], z['z1'], shard_size, **meta)
  return folder
