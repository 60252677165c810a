"""Train (or resume) a run.

    python -m launch.train --config experiments/rectified_flow/toy2d.py[:variant] --workdir DIR \
        [--config.optim.lr=1e-4 ...]

The config is loaded, overridden and validated before anything is written; running again on the
same workdir resumes from its newest checkpoint. A mistake in the command, the config or the
workdir prints one ``error:`` line and exits with 2 (nothing written); a diverged run exits with 1.
"""

from __future__ import annotations

import sys


def _arguments(parser) -> None:
  parser.add_argument('--config', required=True, help='experiment file[:variant]')
  parser.add_argument('--workdir', required=True, help='output folder (resumed if it exists)')


def main(argv=None) -> int:
  from jaxgen.runtime import cli
  from jaxgen.runtime import config as cfg
  from jaxgen.runtime import overrides as overrides_lib

  argv = sys.argv[1:] if argv is None else argv
  try:
    args, overrides = cli.parse(argv, 'python -m launch.train', __doc__, _arguments)
    config = cfg.validate(overrides_lib.apply(cfg.load(args.config), overrides))
  except cli.USER_ERRORS as e:
    return cli.error(e)

  from jaxgen.runtime import loop
  from jaxgen.runtime import parallel
  from jaxgen.runtime import workdir as workdir_lib
  from jaxgen.store import checkpoint as ckpt_lib

  parallel.initialize_multihost()
  try:
    loop.train(config, args.workdir)  # holds the workdir lock (one writer) for the whole run
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
