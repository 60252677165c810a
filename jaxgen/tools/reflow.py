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

The folder is written by the one resumable writer (`jaxgen.store.resumable.write`, split over
processes; the format: `jaxgen.data.pairs`): ``plan.json`` first (a rerun must match it, else it
is refused unless --force), then each shard and its record ``shard_i.json``, ``index.json`` last
by process 0 once every shard exists; a rerun after a kill keeps every shard whose SHA-256
matches its record and makes the rest. A finished folder is refused without --force (runs that
trained on it record its digest). Over processes: shard i belongs to process ``i %
process_count``, made on its own devices (no collectives). Memory: one shard on the host (plus
one chunk on the devices), whatever the number of pairs.
"""

from __future__ import annotations

import resource
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
from jaxgen.store import resumable
from jaxgen.store import shards

KIND = resumable.Kind(
    stem=pairs.STEM, unit='pair', label='reflow', things='pairs', rename='--out',
    finished_refusal=('holds finished pairs (runs may train on them: they record their digest '
                      'and would refuse to resume on other pairs); choose another --out, or pass '
                      '--force to replace them'))


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
    problems.append(f'--out={out}: pairs are a folder of shards (index.json, shard_*.npz); '
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


def make_pairs(run, workdir: str, num: int, shard: int = 5000, seed: int = 0, out: str = '',
               force: bool = False, chunk: int = 0, process_index: Optional[int] = None,
               process_count: Optional[int] = None) -> str:
  """Writes `num` pairs of the run's coupling as a pairs folder `out` (default
  ``<workdir>/reflow/pairs``), resuming an unfinished one made with the same plan, and returns
  the folder. `chunk` pairs per jit call (0: the shard size). This process makes the shards
  i with ``i % process_count == process_index`` (default: JAX's); process 0 writes the index
  once all exist. Refusals (`check`, a finished folder without `force`, an unfinished one with
  another plan, a solver that made no evaluation) come before anything is written; non-finite
  pairs stop it (exit 1) with the finished shards kept."""
  out = out or default_out(workdir)
  check(run, workdir, num, shard, chunk, out)
  chunk = min(chunk or shard, shard)
  pi = jax.process_index() if process_index is None else int(process_index)
  pc = jax.process_count() if process_count is None else int(process_count)
  plan = plan_of(run, workdir, num, shard, chunk, seed)
  sizes = shards.sizes(num, shard)
  key = jax.random.PRNGKey(seed)
  compiled = {}

  def make(i):
    if not compiled:   # once, on the first shard this process makes
      if jax.process_count() > 1:   # this process's devices only: no collectives between shards
        mesh = Mesh(np.array(jax.local_devices()), ('data',))
        params = jax.device_put(parallel.to_host(run.params), parallel.replicated(mesh))
      else:
        mesh, params = run.mesh, run.params
      compiled.update(fn=pair_function(
          run, chunk, run.model.sampling_settings(run.config.sampling), mesh), params=params)
    z0 = np.empty((sizes[i],) + tuple(plan['shape']), np.float32)
    z1, nfes = np.empty_like(z0), []
    for c, start in enumerate(range(0, sizes[i], chunk)):
      a0, a1, info = jax.device_get(compiled['fn'](compiled['params'], jax.random.fold_in(
          jax.random.fold_in(key, i), c)))
      stop = min(start + chunk, sizes[i])   # the last call is padded to `chunk` pairs
      z0[start:stop], z1[start:stop] = a0[:stop - start], a1[:stop - start]
      nfes.append(int(info['nfe']))
    if min(nfes) < 1:
      raise Failure(f'the solver made {min(nfes)} velocity evaluations (z1 = z0, not a '
                    'coupling); nothing was written')
    if not (np.all(np.isfinite(z0)) and np.all(np.isfinite(z1))):
      raise Failure(f'the ODE produced NaN/inf values in shard {i}; it was not written (the '
                    'finished shards are kept)', code=1)
    return dict(z0=z0, z1=z1), dict(z1_min=float(np.min(z1)), z1_max=float(np.max(z1)),
                                    nfe=max(nfes))

  def index_of(records):
    nfe = [r['nfe'] for r in records]
    return pairs.index(dict(plan, nfe=max(nfe), nfe_mean=float(np.mean(nfe))), records)

  done = resumable.write(out, KIND, plan, sizes, make, index_of, force=force, split=True,
                         process_index=pi, process_count=pc)
  if pi != 0:
    print(f'[process {pi}/{pc}] reflow: {len(done.todo) + len(done.records)} shards of {out} '
          f'ready ({done.made} pairs made in {done.seconds:.1f}s); process 0 writes the index',
          flush=True)
    return out
  if done.missing:
    m = done.missing
    raise Failure(f'{out}: shards {m[:8]}{" ..." if len(m) > 8 else ""} are not made yet (shard '
                  f'i belongs to process i % {pc}); run the other processes, or rerun this '
                  'command as one process to make them', code=1)
  rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # KiB on Linux -> MiB
  print(f'Wrote {out}: {num} pairs in {len(sizes)} shards of {shard} ({done.made} made, '
        f'{done.kept} kept) in {done.seconds:.1f}s, {done.made / max(done.seconds, 1e-9):.0f} '
        f'pairs/s, {plan["solver"]} NFE {done.index["nfe"]}, from step {run.step}, peak RSS '
        f'{rss:.0f} MiB (digest {done.index["digest"][:12]}...)', flush=True)
  return out
