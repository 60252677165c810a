"""Reflow pairs: the deterministic coupling (z0, z1 = ODE(z0)) of a trained rectified-flow run.

    python -m launch.reflow --workdir runs/rf_moons --num 50000 [--chunk 5000] [--seed 0] \
        [--out FILE] [--force] [--step N] [--config.sampling.solver=dopri5 \
        --config.sampling.rtol=1e-5 ...]

Draws z0 ~ N(0, I) and integrates the run's ODE from t = 0 (noise) to t = 1 (data) with its EMA
params if the run evaluates with them (``eval.use_ema``, else its params) and its ``sampling``
config (any `jaxgen.ode.solvers` solver; the paper used RK45, i.e.
``--config.sampling.solver=dopri5``). The pairs start at t = 0: ``sampling.t_start`` must be 0.
Chunk i uses the key ``fold_in(PRNGKey(seed), i)`` and is one jit-compiled call, sharded over the
devices along the batch when they divide the chunk (the last chunk is padded to the chunk size,
so there is one compilation). Writes ``<workdir>/reflow/pairs.npz`` (or FILE): ``z0``, ``z1`` and
``meta`` (solver, steps, rtol, atol, nfe, source workdir, step and config, the evaluation data of
the chain's root run and the arrays' digest; see `jaxgen.data.pairs`). An existing file is not
overwritten without ``--force`` (runs that trained on it then refuse to resume). Train k-RF on it
with ``--config.data.name=pairs:<that file>`` (and ``--config.train.init_from=<workdir>`` to start
from this run's weights, as the paper does). Errors print one ``error:`` line and exit with 2;
nothing is written then.
"""

from __future__ import annotations

import os
import sys
import time

from launch._workdir import open_run


def _arguments(parser) -> None:
  parser.add_argument('--num', type=int, required=True, help='number of pairs')
  parser.add_argument('--chunk', type=int, default=5000, help='pairs per jit-compiled call')
  parser.add_argument('--seed', type=int, default=0, help='seed of the noise z0')
  parser.add_argument('--out', default='', help='output file (default WORKDIR/reflow/pairs.npz)')
  parser.add_argument('--force', action='store_true', help='overwrite an existing output file')


def pair_function(trainer, n: int, sampling):
  """The jit-compiled ``(params, rng) -> (z0 [n, ...], z1 [n, ...], info)`` of the run's coupling,
  with z0 and z1 sharded over the mesh along the batch when its devices divide `n` (each device
  draws and integrates its share), else replicated; adaptive solvers are compiled like
  launch.sample's (`compile_options.for_sampling`)."""
  import jax

  from jaxgen.runtime import compile_options
  from jaxgen.runtime import parallel

  coupling = trainer.model.extras['coupling']
  mesh = trainer.mesh
  rep = parallel.replicated(mesh)
  out = parallel.batch_sharding(mesh) if n % mesh.devices.size == 0 else rep
  return jax.jit(lambda p, r: coupling(p, r, n, sampling), out_shardings=(out, out, rep),
                 compiler_options=compile_options.for_sampling(sampling))


def main(argv=None) -> int:
  argv = sys.argv[1:] if argv is None else argv
  args, trainer, state = open_run(argv, 'python -m launch.reflow', __doc__, _arguments)
  if trainer is None:
    return 2
  if 'coupling' not in trainer.model.extras:
    print(f'error: {args.workdir} is a {trainer.config.model.family} run; reflow pairs need a '
          'rectified_flow run (a model with a `coupling` extra)', file=sys.stderr)
    return 2
  config, s = trainer.config, trainer.config.sampling
  out = args.out or os.path.join(args.workdir, 'reflow', 'pairs.npz')
  problems = []
  if args.num <= 0 or args.chunk <= 0:
    problems.append('--num and --chunk must be > 0')
  if float(s.t_start) != 0.0:
    problems.append(f'sampling.t_start={s.t_start}: reflow pairs start at t = 0 (z0 ~ N(0, I) is '
                    'the noise end of the coupling); leave --config.sampling.t_start=0')
  if os.path.exists(out) and not args.force:
    problems.append(f'{out} exists (runs may train on it: they record its digest and would refuse '
                    'to resume on other pairs); choose another --out, or pass --force to replace '
                    'it')
  if problems:
    for p in problems:
      print(f'error: {p}', file=sys.stderr)
    return 2

  import jax
  import numpy as np

  from jaxgen.runtime import config as cfg
  from jaxgen.runtime import parallel
  from jaxgen.data import pairs

  params = state.ema_params if config.eval.use_ema else state.params
  chunk = min(args.chunk, args.num)
  make = pair_function(trainer, chunk, s)
  key = jax.random.PRNGKey(args.seed)
  n_chunks = -(-args.num // chunk)
  z0s, z1s, nfes = [], [], []
  t0 = time.perf_counter()
  for i in range(n_chunks):
    # Gathered: every process holds all pairs (pair generation is sharded over all devices).
    z0, z1, info = parallel.to_host(make(params, jax.random.fold_in(key, i)))
    z0s.append(np.asarray(z0))
    z1s.append(np.asarray(z1))
    nfes.append(int(info['nfe']))
    done = min((i + 1) * chunk, args.num)
    if jax.process_index() == 0:
      print(f'reflow: {done}/{args.num} pairs ({i + 1}/{n_chunks} chunks, NFE {nfes[-1]}, '
            f'{time.perf_counter() - t0:.1f}s)', flush=True)
  z0, z1 = np.concatenate(z0s)[:args.num], np.concatenate(z1s)[:args.num]
  if not (np.all(np.isfinite(z0)) and np.all(np.isfinite(z1))):
    print('error: the ODE produced NaN/inf values; nothing was written', file=sys.stderr)
    return 1
  if min(nfes) < 1:
    print(f'error: the solver made {min(nfes)} velocity evaluations (z1 = z0, not a coupling); '
          'nothing was written', file=sys.stderr)
    return 2
  meta = dict(solver=s.solver, steps=int(s.steps), grid=s.grid, rtol=float(s.rtol),
              atol=float(s.atol), t_start=float(s.t_start), nfe=max(nfes),
              nfe_mean=float(np.mean(nfes)), num=int(args.num), chunk=int(chunk),
              seed=int(args.seed), use_ema=bool(config.eval.use_ema),
              source_workdir=os.path.abspath(args.workdir), source_step=int(state.step),
              source_config=cfg.validate(config).to_dict(),
              eval_source=trainer.data.eval_source())
  if jax.process_index() == 0:
    pairs.save(out, z0, z1, **meta)
    print(f'Wrote {out}: {args.num} pairs, {s.solver} NFE {max(nfes)}, from step {int(state.step)} '
          f'in {time.perf_counter() - t0:.1f}s (digest {pairs.digest(z0, z1)[:12]}...)')
  return 0


if __name__ == '__main__':
  sys.exit(main())
