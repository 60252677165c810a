"""Train (or resume) a run.

    python -m launch.train --config experiments/rectified_flow/toy2d.py[:variant] --workdir DIR \
        [--config.optim.lr=1e-4 ...]

The config is loaded, overridden and validated before anything is written; running again on the
same workdir resumes from its newest checkpoint.
"""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
  from jaxgen.runtime import config as cfg

  argv = sys.argv[1:] if argv is None else argv
  try:
    rest, overrides = cfg.split_overrides(argv)
  except cfg.ConfigError as e:
    print(f'error: {e}', file=sys.stderr)
    return 2
  parser = argparse.ArgumentParser(prog='python -m launch.train', description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--config', required=True, help='experiment file[:variant]')
  parser.add_argument('--workdir', required=True, help='output folder (resumed if it exists)')
  args = parser.parse_args(rest)
  try:
    config = cfg.validate(cfg.override(cfg.load(args.config), overrides))
  except (cfg.ConfigError, ValueError) as e:
    print(f'error: {e}', file=sys.stderr)
    return 2

  from jaxgen.runtime import parallel
  from jaxgen.runtime import train

  parallel.initialize_multihost()
  try:
    train.run(config, args.workdir)
  except (cfg.ConfigError, train.TrainingDiverged, FileNotFoundError, ValueError) as e:
    print(f'error: {e}', file=sys.stderr)
    return 1
  return 0


if __name__ == '__main__':
  sys.exit(main())
