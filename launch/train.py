"""Train (or resume) a run.

examples:
  python -m launch.train --config experiments/rectified_flow/toy2d.py --workdir runs/rf_moons
  python -m launch.train --config experiments/score_sde/digits.py:smoke --workdir /tmp/sde \\
      --config.optim.lr=1e-4

The config is loaded, overridden and validated before anything is written; running again on the
same workdir resumes from its newest checkpoint. A mistake in the command, the config or the
workdir prints one `error:` line and exits with 2 (nothing written); a run that fails after it
started (it diverged, the disk filled) exits with 1; a preempted run (SIGTERM / SIGINT) saves its
step and exits with 143 / 130.
"""

from __future__ import annotations

import argparse
import os
import sys

PROG = 'python -m launch.train'


def _arguments(parser) -> None:
  parser.add_argument('--config', required=True, metavar='FILE[:VARIANT,...]',
                      help='experiment file and its variants, e.g. '
                      'experiments/rectified_flow/toy2d.py:smoke')
  parser.add_argument('--workdir', required=True, metavar='DIR',
                      help='output folder (resumed if it holds a run)')


def _check_flags(argv: list[str]) -> str | None:
  """Before JAX is imported: answers `--help` and refuses an unknown flag (argparse exits with 0
  or 2); returns the refusal of a missing experiment file, or None. Overrides (``--config.a.b=v``
  or ``--config.a.b v``) pass unread."""
  parser = argparse.ArgumentParser(
      prog=PROG, usage='%(prog)s --config FILE[:VARIANT,...] --workdir DIR [--config.a.b=VALUE ...]',
      description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  _arguments(parser)
  args, extra = parser.parse_known_args(argv)
  value_next = False
  for arg in extra:
    if value_next:
      value_next = False
    elif arg.startswith('--config.'):
      value_next = '=' not in arg
    else:
      parser.error(f'unrecognized argument: {arg}')
  path = args.config.partition(':')[0]
  if not os.path.exists(path):
    return (f'experiment file {path!r} does not exist (give a path such as '
            'experiments/rectified_flow/toy2d.py[:smoke])')
  return None


def main(argv=None) -> int:
  argv = sys.argv[1:] if argv is None else argv
  refusal = _check_flags(argv)
  if refusal:
    print(f'error: {refusal}', file=sys.stderr)
    return 2

  from jaxgen.runtime import cli
  from jaxgen.runtime import config as cfg
  from jaxgen.runtime import overrides as overrides_lib

  try:
    args, overrides = cli.parse(argv, PROG, __doc__, _arguments)
    config = cfg.validate(overrides_lib.apply(cfg.load(args.config), overrides))
  except cli.USER_ERRORS as e:
    return cli.error(e)

  from jaxgen.runtime import loop
  from jaxgen.runtime import parallel
  from jaxgen.runtime import workdir as workdir_lib
  from jaxgen.store import checkpoint as ckpt_lib
  from jaxgen.tools import teacher_run

  parallel.initialize_multihost()
  try:
    teacher = teacher_run.open_for(config)  # consistency distillation's frozen teacher, or None
    loop.train(config, args.workdir, teacher=teacher)  # holds the workdir lock (one writer)
  except (loop.TrainingDiverged, ckpt_lib.SaveFailed) as e:  # the run failed; earlier
    cli.error(e)                                              # checkpoints are intact
    return 1
  except cli.USER_ERRORS as e:
    return cli.error(e)
  except OSError as e:  # e.g. a disk that filled during the run: the run failed
    cli.error(workdir_lib.os_error_message(e, args.workdir))
    return 1
  return 0


if __name__ == '__main__':
  sys.exit(main())
