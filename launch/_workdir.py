"""What launch.sample, launch.evaluate and launch.nice_inpaint share: open a trained workdir."""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Optional


def open_run(argv: list[str], prog: str, doc: str,
             add_arguments: Optional[Callable[[argparse.ArgumentParser], None]] = None):
  """Parses ``--workdir``, ``--step``, the script's own flags and ``--config.*`` overrides, then
  restores the run. Returns ``(args, trainer, state)``; trainer and state are None after an error,
  which has been printed."""
  from jaxgen.runtime import checkpoint
  from jaxgen.runtime import config as cfg
  from jaxgen.runtime import parallel
  from jaxgen.runtime import train

  rest, overrides = cfg.split_overrides(argv)
  parser = argparse.ArgumentParser(prog=prog, description=doc,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--workdir', required=True)
  parser.add_argument('--step', type=int, default=None, help='checkpoint step (default: newest)')
  if add_arguments is not None:
    add_arguments(parser)
  args = parser.parse_args(rest)
  parallel.initialize_multihost()  # one of several processes: as launch.train
  try:
    trainer, state = train.load_run(args.workdir, overrides, args.step)
  except (cfg.ConfigError, checkpoint.CheckpointError, FileNotFoundError, ValueError) as e:
    print(f'error: {e}', file=sys.stderr)
    return args, None, None
  return args, trainer, state
