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

import sys


def _arguments(parser) -> None:
  parser.add_argument('--num', type=int, required=True, help='number of pairs')
  parser.add_argument('--chunk', type=int, default=5000, help='pairs per jit-compiled call')
  parser.add_argument('--seed', type=int, default=0, help='seed of the noise z0')
  parser.add_argument('--out', default='', help='output file (default WORKDIR/reflow/pairs.npz)')
  parser.add_argument('--force', action='store_true', help='overwrite an existing output file')


def _reflow(args, run) -> None:
  from jaxgen.runtime import reflow

  reflow.make_pairs(run, args.workdir, args.num, args.chunk, args.seed, args.out, args.force)


def main(argv=None) -> int:
  from jaxgen.runtime import cli

  argv = sys.argv[1:] if argv is None else argv
  return cli.on_run(argv, 'python -m launch.reflow', __doc__, _reflow, _arguments)


if __name__ == '__main__':
  sys.exit(main())
