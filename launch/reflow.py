"""Reflow pairs: the deterministic coupling (z0, z1 = ODE(z0)) of a trained rectified-flow run.

    python -m launch.reflow --workdir runs/rf_moons --num 50000 [--shard 5000] [--chunk 0] \
        [--seed 0] [--out DIR] [--force] [--step N] [--config.sampling.solver=dopri5 \
        --config.sampling.rtol=1e-5 ...]

Draws z0 ~ N(0, I) and integrates the run's ODE from t = 0 (noise) to t = 1 (data) with its EMA
params if the run evaluates with them (``eval.use_ema``, else its params) and its ``sampling``
config (any `jaxgen.ode.solvers` solver; the paper used RK45, i.e.
``--config.sampling.solver=dopri5``). The pairs start at t = 0: ``sampling.t_start`` must be 0.
Writes the folder ``<workdir>/reflow/pairs/`` (or DIR): shards ``shard_00000.npz`` ... of
``--shard`` pairs (z0, z1), each with its record (SHA-256, NFE), and ``index.json`` last (how
they were made: solver, steps, rtol, atol, nfe, seed, source workdir, step and config, the
evaluation data of the chain's root run, the shards' digests; see `jaxgen.data.pairs`). Memory
holds one shard, whatever ``--num``. Shard i is made in calls of ``--chunk`` pairs (0: the whole
shard in one call; smaller for a large net), call c with the key ``fold_in(fold_in(PRNGKey(seed),
i), c)``, sharded over the devices along the batch; with several processes (jax.distributed)
each makes the shards i with ``i % process_count == process_index`` on its own devices and
process 0 writes the index. Killed or stopped, the same command resumes: finished shards are
kept (their SHA-256 checked) and the result is the bytes an uninterrupted run writes; another
command on an unfinished folder is refused (``--force`` starts over). A finished folder is not
replaced without ``--force`` (runs that trained on it then refuse to resume). Prints a progress
bar (pairs/s) and a last line with the count, time, pairs/s and peak memory. Train k-RF on it
with an experiment's ``reflow`` variant and ``--config.train.init_from=<workdir>`` (its pairs
and weights both come from that run), or ``--config.data.name=pairs:<folder>``. Errors print one
``error:`` line and exit with 2; nothing is written then.
"""

from __future__ import annotations

import sys


def _arguments(parser) -> None:
  parser.add_argument('--num', type=int, required=True, help='number of pairs')
  parser.add_argument('--shard', type=int, default=5000, help='pairs per shard file')
  parser.add_argument('--chunk', type=int, default=0,
                      help='pairs per jit-compiled call (0: one call per shard)')
  parser.add_argument('--seed', type=int, default=0, help='seed of the noise z0')
  parser.add_argument('--out', default='', help='output folder (default WORKDIR/reflow/pairs)')
  parser.add_argument('--force', action='store_true', help='replace finished pairs, or restart an unfinished generation')


def _reflow(args, run) -> None:
  from jaxgen.tools import reflow

  reflow.make_pairs(run, args.workdir, args.num, args.shard, args.seed, args.out, args.force,
                    args.chunk)


def main(argv=None) -> int:
  from jaxgen.runtime import cli

  argv = sys.argv[1:] if argv is None else argv
  return cli.on_run(argv, 'python -m launch.reflow', __doc__, _reflow, _arguments)


if __name__ == '__main__':
  sys.exit(main())
