"""Reconstruct a run's post-hoc EMA of any sigma_rel (EDM2) as a new, evaluable workdir.

    python -m launch.posthoc_ema --workdir DIR --sigma_rel 0.05 [--step N] [--out OUT]

DIR must have been trained with ``--config.optim.posthoc_ema="(0.05, 0.1)"`` (its snapshots in
DIR/posthoc/). Writes OUT (default DIR_phema<sigma_rel>_step<N>; `jaxgen.tools.posthoc_ema`),
which ``launch.evaluate`` / ``launch.sample --workdir OUT`` read like any run. Without writing a
folder, ``--config.eval.posthoc_sigma_rel=S`` on ``launch.evaluate`` / ``launch.sample`` (or a
table row's overrides) evaluates the reconstruction at the opened checkpoint's step.
"""

from __future__ import annotations

import sys


def _arguments(parser) -> None:
  parser.add_argument('--workdir', required=True)
  parser.add_argument('--sigma_rel', type=float, required=True,
                      help='the EMA width relative to training time, in (0, 0.2887)')
  parser.add_argument('--step', type=int, default=None,
                      help='the time of the profile (default: the newest snapshot)')
  parser.add_argument('--out', default='', help='the new workdir (default: beside DIR)')


def main(argv=None) -> int:
  from jaxgen.runtime import cli
  from jaxgen.runtime import config as cfg_lib

  argv = sys.argv[1:] if argv is None else argv
  # The flags first, outside the try: --help and a wrong flag need no JAX (cli.USER_ERRORS
  # imports the checkpoint layer when an exception reaches it).
  try:
    args, overrides = cli.parse(argv, 'python -m launch.posthoc_ema', __doc__, _arguments)
  except cfg_lib.ConfigError as e:
    return cli.error(e)
  if overrides:
    return cli.error('launch.posthoc_ema takes no --config.* overrides')
  try:
    from jaxgen.tools import posthoc_ema

    out, record = posthoc_ema.write(args.workdir, args.sigma_rel, args.step, args.out)
  except cli.USER_ERRORS as e:
    return cli.error(e)
  print(f'{out}: post-hoc EMA sigma_rel={record["sigma_rel"]:g} (gamma {record["gamma"]:.3f}) at '
        f'step {record["step"]} from {len(record["snapshots"])} snapshots x '
        f'{len(record["profiles"])} profiles; evaluate with python -m launch.evaluate --workdir '
        f'{out}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
