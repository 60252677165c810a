"""What the launch/ commands share: flags, ``--config.*`` overrides, opening a run, one-line errors.

A user mistake prints one ``error: ...`` line on stderr and exits with status 2, having written
nothing (no traceback); a run that fails after it started (it diverged) exits with 1.

Importing this module imports no JAX, Orbax or config schema: a command reaches them only
through the functions here (and ``USER_ERRORS``, resolved when first used), so ``--help`` and
file checks need not wait for them.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Callable, Optional

from jaxgen.store import lock as lock_lib


def __getattr__(name: str):
  """``USER_ERRORS``: what a user's mistake raises (a config key, a missing run or file, a damaged
  checkpoint, and a workdir that cannot be used: `lock.WorkdirError`, `lock.Locked`, both
  ValueErrors). Built on first use (an ``except cli.USER_ERRORS`` clause is evaluated only when
  an exception reaches it), since it names the config's and the checkpointer's errors."""
  if name != 'USER_ERRORS':
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
  from jaxgen.runtime import config as cfg_lib
  from jaxgen.store import checkpoint as ckpt_lib

  return (cfg_lib.ConfigError, lock_lib.WorkdirError, ckpt_lib.CheckpointError,
          FileNotFoundError, ValueError)


class Failure(Exception):
  """A command's refusal: printed as ``error: <message>``, exit status `code`."""

  def __init__(self, message: str, code: int = 2):
    super().__init__(message)
    self.code = code


def error(message) -> int:
  print(f'error: {message}', file=sys.stderr)
  return 2


def parse(argv: list[str], prog: str, doc: str,
          add_arguments: Optional[Callable[[argparse.ArgumentParser], None]] = None):
  """``(args, overrides)``: the command's flags and its ``--config.a.b=v`` overrides (a dict of
  text values). Raises ConfigError for an override without a value."""
  from jaxgen.runtime import overrides as overrides_lib

  rest, overrides = overrides_lib.split(argv)
  parser = argparse.ArgumentParser(prog=prog, description=doc,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  if add_arguments is not None:
    add_arguments(parser)
  return parser.parse_args(rest), overrides


def on_run(argv: list[str], prog: str, doc: str, work: Callable[..., Optional[int]],
           add_arguments: Optional[Callable[[argparse.ArgumentParser], None]] = None,
           writes: Callable[[argparse.Namespace], bool] = lambda args: True,
           teacher_for: Optional[Callable] = None) -> int:
  """The body of a command on a trained run: parses ``--workdir``, ``--step``, the command's own
  flags and the overrides, opens the run (`run.open_run`; ``teacher_for(config)``: the frozen
  network its family's loss reads, or None) and calls ``work(args, run)`` (its
  return value is the exit status; None is 0) under the run's ``train.fast_compile`` setting.
  If ``writes(args)`` (the command writes into the workdir) it holds the workdir's lock
  (`lock.hold`) from before the run is opened until ``work`` returns: a training run or another
  command writing there refuses it at once. A file system error while working (a full disk) is
  one line and exit status 1."""
  from jaxgen.runtime import config as cfg_lib

  def arguments(parser):
    parser.add_argument('--workdir', required=True)
    parser.add_argument('--step', type=int, default=None, help='checkpoint step (default: newest)')
    if add_arguments is not None:
      add_arguments(parser)

  try:  # the flags first: --help and a wrong flag need no JAX
    args, overrides = parse(argv, prog, doc, arguments)
  except cfg_lib.ConfigError as e:
    return error(e)
  from jaxgen.runtime import compile_options
  from jaxgen.runtime import parallel
  from jaxgen.runtime import run as run_lib
  from jaxgen.runtime import workdir as workdir_lib

  user_errors = __getattr__('USER_ERRORS')
  try:
    workdir_lib.read_config(args.workdir)  # a missing run is named before anything is locked
    parallel.initialize_multihost()  # one of several processes: as launch.train
  except user_errors as e:
    return error(e)
  name = prog.replace('python -m ', '')
  hold = lock_lib.hold(args.workdir, name) if writes(args) else contextlib.nullcontext()
  try:
    with hold:
      try:
        run = run_lib.open_run(args.workdir, overrides, args.step, teacher_for)
      except user_errors as e:
        return error(e)
      try:
        with compile_options.fast_compile(run.config.train.fast_compile):
          return work(args, run) or 0
      except Failure as e:
        error(e)
        return e.code
      except user_errors as e:  # e.g. an unknown eval.metrics name
        return error(e)
      except OSError as e:  # a full disk while writing: the run failed, not the input
        error(workdir_lib.os_error_message(e, args.workdir))
        return 1
  except lock_lib.WorkdirError as e:  # the lock: held by another run, or the folder unwritable
    return error(e)
