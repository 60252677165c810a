"""Reflow pairs: the deterministic coupling (z0, z1 = ODE(z0)) of a trained rectified-flow run.

    python -m launch.reflow --workdir runs/rf_moons --num 50000 [--chunk 5000] [--seed 0] \
        [--out FILE] [--step N] [--config.sampling.solver=dopri5 --config.sampling.rtol=1e-5 ...]

Draws z0 ~ N(0, I) and integrates the run's ODE with its EMA params (``eval.use_ema``) from t = 0
(noise) to t = 1 (data) with the run's ``sampling`` config (any `jaxgen.solvers` solver; the paper
used RK45, i.e. ``--config.sampling.solver=dopri5``). Chunk i uses the key
``fold_in(PRNGKey(seed), i)`` and is one jit-compiled call (the last chunk is padded to the chunk
size, so there is one compilation). Writes ``<workdir>/reflow/pairs.npz`` (or FILE): ``z0``,
``z1`` and ``meta`` (solver, steps, rtol, atol, nfe, source workdir, step and config; see
`jaxgen.data.pairs`). Train k-RF on it with ``--config.data.name=pairs:<that file>`` (and
``--config.train.init_from=<workdir>`` to start from this run's weights, as the paper does).
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


def main(argv=None) -> int:
  argv = sys.argv[1:] if argv is None else argv
  args, trainer, state = open_run(argv, 'python -m launch.reflow', __doc__, _arguments)
  if trainer is None:
    return 2
  if 'coupling' not in trainer.model.extras:
    print(f'error: {args.workdir} is a {trainer.config.model.family} run; reflow pairs need a '
          'rectified_flow run (a model with a `coupling` extra)', file=sys.stderr)
    return 2
  if args.num <= 0 or args.chunk <= 0:
    print('error: --num and --chunk must be > 0', file=sys.stderr)
    return 2

  import jax
  import numpy as np

  from jaxgen import compile_options, solvers
  from jaxgen import config as cfg
  from jaxgen.data import pairs

  config, s = trainer.config, trainer.config.sampling
  params = state.ema_params if config.eval.use_ema else state.params
  chunk = min(args.chunk, args.num)
  coupling = trainer.model.extras['coupling']
  adaptive = solvers.get(s.solver).adaptive   # compiled like launch.sample's adaptive solves
  make = jax.jit(lambda p, r: coupling(p, r, chunk, s),
                 compiler_options=compile_options.ode_solve() if adaptive else None)
  key = jax.random.PRNGKey(args.seed)
  n_chunks = -(-args.num // chunk)
  z0s, z1s, nfes = [], [], []
  t0 = time.perf_counter()
  for i in range(n_chunks):
    z0, z1, info = jax.device_get(make(params, jax.random.fold_in(key, i)))
    z0s.append(np.asarray(z0))
    z1s.append(np.asarray(z1))
    nfes.append(int(info['nfe']))
    done = min((i + 1) * chunk, args.num)
    print(f'reflow: {done}/{args.num} pairs ({i + 1}/{n_chunks} chunks, NFE {nfes[-1]}, '
          f'{time.perf_counter() - t0:.1f}s)', flush=True)
  z0, z1 = np.concatenate(z0s)[:args.num], np.concatenate(z1s)[:args.num]
  if not (np.all(np.isfinite(z0)) and np.all(np.isfinite(z1))):
    print('error: the ODE produced NaN/inf values; nothing was written', file=sys.stderr)
    return 1
  out = args.out or os.path.join(args.workdir, 'reflow', 'pairs.npz')
  meta = dict(solver=s.solver, steps=int(s.steps), grid=s.grid, rtol=float(s.rtol),
              atol=float(s.atol), t_start=float(s.t_start), nfe=max(nfes),
              nfe_mean=float(np.mean(nfes)), num=int(args.num), chunk=int(chunk),
              seed=int(args.seed), use_ema=bool(config.eval.use_ema),
              source_workdir=os.path.abspath(args.workdir), source_step=int(state.step),
              source_config=cfg.validate(config).to_dict())
  if jax.process_index() == 0:
    pairs.save(out, z0, z1, **meta)
  print(f'Wrote {out}: {args.num} pairs, {s.solver} NFE {max(nfes)}, from step {int(state.step)} '
        f'in {time.perf_counter() - t0:.1f}s')
  return 0


if __name__ == '__main__':
  sys.exit(main())
