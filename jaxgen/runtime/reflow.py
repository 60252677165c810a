"""Reflow pairs: the deterministic coupling (z0, z1 = ODE(z0)) of a trained rectified-flow run.

z0 ~ N(0, I) is integrated from t = 0 (noise) to t = 1 (data) with ``run.params`` and the run's
``sampling`` config (any `jaxgen.ode.solvers` solver). Chunk i uses the key
``fold_in(PRNGKey(seed), i)`` and is one jit-compiled call, sharded over the devices along the
batch when they divide the chunk (the last chunk is padded to the chunk size: one compilation).
The file (`jaxgen.data.pairs`) holds z0, z1 and how they were made.
"""

from __future__ import annotations

import os
import tempfile
import time

import jax
import numpy as np

from jaxgen.data import pairs
from jaxgen.runtime import compile_options
from jaxgen.runtime import config as cfg_lib
from jaxgen.runtime import parallel
from jaxgen.runtime import paths
from jaxgen.runtime.cli import Failure


def pair_function(run, n: int, sampling):
  """The jit-compiled ``(params, rng) -> (z0 [n, ...], z1 [n, ...], info)`` of the run's coupling,
  with z0 and z1 sharded over the mesh along the batch when its devices divide `n` (each device
  draws and integrates its share), else replicated; compiled as the run's samples are
  (`compile_options.sampling_options`)."""
  coupling = run.model.extras['coupling']
  rep = parallel.replicated(run.mesh)
  out = parallel.batch_sharding(run.mesh) if n % run.mesh.devices.size == 0 else rep
  return jax.jit(lambda p, r: coupling(p, r, n, sampling), out_shardings=(out, out, rep),
                 compiler_options=compile_options.sampling_options(run.model, sampling))


def check(run, workdir: str, num: int, chunk: int, out: str, force: bool) -> None:
  """Raises `Failure` (nothing written) for a run without a coupling, a degenerate request or an
  existing output file without `force`."""
  if 'coupling' not in run.model.extras:
    raise Failure(f'{workdir} is a {run.config.model.family} run; reflow pairs need a '
                  'rectified_flow run (a model with a `coupling` extra)')
  s = run.config.sampling
  problems = []
  if num <= 0 or chunk <= 0:
    problems.append('--num and --chunk must be > 0')
  if float(s.t_start) != 0.0:
    problems.append(f'sampling.t_start={s.t_start}: reflow pairs start at t = 0 (z0 ~ N(0, I) is '
                    'the noise end of the coupling); leave --config.sampling.t_start=0')
  if paths.exists(out) and not force:
    problems.append(f'{out} exists (runs may train on it: they record its digest and would refuse '
                    'to resume on other pairs); choose another --out, or pass --force to replace '
                    'it')
  if problems:
    raise Failure('\nerror: '.join(problems))


def make_pairs(run, workdir: str, num: int, chunk: int = 5000, seed: int = 0, out: str = '',
               force: bool = False) -> str:
  """Writes `num` pairs of the run's coupling to `out` (default ``<workdir>/reflow/pairs.npz``;
  process 0 writes, every process computes) and returns the path. Refusals (`check`, non-finite
  values, a solver that made no evaluation) raise `Failure` before anything is written."""
  out = out or paths.join(workdir, 'reflow', 'pairs.npz')
  check(run, workdir, num, chunk, out, force)
  s, config = run.config.sampling, run.config
  chunk = min(chunk, num)
  make = pair_function(run, chunk, s)
  key = jax.random.PRNGKey(seed)
  n_chunks = -(-num // chunk)
  z0s, z1s, nfes = [], [], []
  t0 = time.perf_counter()
  for i in range(n_chunks):
    # Gathered: every process holds all pairs (pair generation is sharded over all devices).
    z0, z1, info = parallel.to_host(make(run.params, jax.random.fold_in(key, i)))
    z0s.append(np.asarray(z0))
    z1s.append(np.asarray(z1))
    nfes.append(int(info['nfe']))
    if jax.process_index() == 0:
      print(f'reflow: {min((i + 1) * chunk, num)}/{num} pairs ({i + 1}/{n_chunks} chunks, NFE '
            f'{nfes[-1]}, {time.perf_counter() - t0:.1f}s)', flush=True)
  z0, z1 = np.concatenate(z0s)[:num], np.concatenate(z1s)[:num]
  if not (np.all(np.isfinite(z0)) and np.all(np.isfinite(z1))):
    raise Failure('the ODE produced NaN/inf values; nothing was written', code=1)
  if min(nfes) < 1:
    raise Failure(f'the solver made {min(nfes)} velocity evaluations (z1 = z0, not a coupling); '
                  'nothing was written')
  meta = dict(solver=s.solver, steps=int(s.steps), grid=s.grid, rtol=float(s.rtol),
              atol=float(s.atol), t_start=float(s.t_start), nfe=max(nfes),
              nfe_mean=float(np.mean(nfes)), num=int(num), chunk=int(chunk), seed=int(seed),
              use_ema=bool(config.eval.use_ema), source_workdir=paths.abspath(workdir),
              source_step=run.step, source_config=cfg_lib.validate(config).to_dict(),
              eval_source=run.data.eval_source())
  if jax.process_index() == 0:
    _save(out, z0, z1, **meta)
    print(f'Wrote {out}: {num} pairs, {s.solver} NFE {max(nfes)}, from step {run.step} in '
          f'{time.perf_counter() - t0:.1f}s (digest {pairs.digest(z0, z1)[:12]}...)')
  return out


def _save(out: str, z0, z1, **meta) -> None:
  """`pairs.save` to `out`; a remote `out` (``gs://``) is written to a local temporary file by
  `pairs.save` and uploaded whole (one upload: never seen half-written)."""
  if paths.is_local(out):
    pairs.save(out, z0, z1, **meta)
    return
  with tempfile.TemporaryDirectory() as tmp:
    local = os.path.join(tmp, 'pairs.npz')
    pairs.save(local, z0, z1, **meta)
    paths.write_atomic(out, paths.read_bytes(local))
