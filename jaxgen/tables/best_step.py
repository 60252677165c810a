"""Which checkpoint a table row with ``step='best'`` evaluates: per training seed, the step of the
lowest ``val/<train.validation_metric>`` the run logged at a checkpoint it still has (its
validation split, `jaxgen.runtime.validation`). A plan step (`jaxgen.tables.plan.Step`) made
before its run was trained holds ``--step best`` and ``choose = (workdir, val key,
train.steps)``; `resolve` replaces it once the run is trained.
"""

from __future__ import annotations

import dataclasses

from jaxgen.runtime import config as cfg_lib
from jaxgen.runtime import validation as validation_lib
from jaxgen.runtime import workdir as workdir_lib
from jaxgen.runtime import writer as writer_lib


def choose(path: str, key: str, steps: int) -> tuple[int, str]:
  """``(step, why)``: the checkpoint of the trained run `path` with the lowest `key`
  (``val/<metric>``) among its checkpoints, and ``'best val/bpd 1.234 at step 800 of 1500'``."""
  found = validation_lib.best(writer_lib.read_metrics(path), key,
                              workdir_lib.checkpoint_steps(path))
  if found is None:
    raise cfg_lib.ConfigError(f'{path}: no {key} is logged at a checkpoint it has, so the '
                              "checkpoint of a row with step='best' cannot be chosen; retrain it "
                              'with data.validation > 0 in a new --runs folder')
  step, value = found
  return step, f'best {key} {value:.4g} at step {step} of {steps}'


def resolve(step):
  """`step` with ``--step best`` replaced by the run's best step (`choose`), once trained."""
  if not step.choose:
    return step
  n, why = choose(*step.choose)
  argv = list(step.argv)
  argv[argv.index('--step') + 1] = str(n)
  return dataclasses.replace(step, argv=tuple(argv), choose=(), chosen=why)
