"""Post-hoc variational dequantization of a trained run: trains Flow++'s q(u | k) with the model
frozen, then reports the variational bound beside the uniform one.

    python -m launch.train_deq --workdir RUN [--steps 1000] [--batch_size 64] [--lr 1e-3] \
        [--couplings 4] [--hidden 32] [--solver rk4] [--solver_steps 4] [--probes 1] \
        [--checkpoint_every 200] [--seed 0] [--evaluate 1] [--step N]

For score-SDE, rectified-flow and cnf runs on integer images (and any family with a continuous
density). q's training state goes to RUN/dequantizer/checkpoints/ (killed, the same command
resumes); RUN/dequantizer/metrics.json holds eval/bpd (uniform bound) and eval/bpd_vdeq
(variational bound) on the run's evaluation split, each named (``--evaluate 0``: none; then
``python -m launch.evaluate --workdir RUN --config.eval.metrics="('bpd', 'bpd_vdeq')"`` reports
both, reading the trained q, as it does after any train_deq). Every step differentiates the
model's likelihood through a fixed-step solve (``--solver``, ``--solver_steps``): see
`jaxgen.tools.train_deq` for the cost. Errors print one ``error:`` line and exit with 2.
"""

from __future__ import annotations

import sys


# The flags of `jaxgen.tools.train_deq.Settings` and their defaults (read without JAX).
FLAGS = {'steps': 1000, 'batch_size': 64, 'lr': 1e-3, 'couplings': 4, 'hidden': 32,
         'solver': 'rk4', 'solver_steps': 4, 'probes': 1, 'checkpoint_every': 200, 'seed': 0,
         'evaluate': 1}


def _arguments(parser) -> None:
  for name, default in FLAGS.items():
    parser.add_argument(f'--{name}', type=type(default), default=default)


def _train(args, run) -> None:
  from jaxgen.tools import train_deq

  settings = train_deq.Settings(**{name: getattr(args, name) for name in FLAGS})
  out = train_deq.train(run, args.workdir, settings)
  if not settings.evaluate:
    print(f"train_deq: q trained to step {out['step']} (not evaluated)", flush=True)
    return
  print(f"train_deq: eval/bpd {out['eval/bpd']:.4f} (uniform), eval/bpd_vdeq "
        f"{out['eval/bpd_vdeq']:.4f} (variational), step {out['step']}", flush=True)


def main(argv=None) -> int:
  from jaxgen.runtime import cli

  argv = sys.argv[1:] if argv is None else argv
  return cli.on_run(argv, 'python -m launch.train_deq', __doc__, _train, _arguments)


if __name__ == '__main__':
  sys.exit(main())
