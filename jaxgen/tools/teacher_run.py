"""The frozen teacher of consistency distillation: a trained score-SDE run opened as a denoiser.

    python -m launch.train --config experiments/consistency/fashion_mnist.py:cd \
        --workdir runs/cd_fashion --config.loss.teacher_run=runs/sde_fashion

`launch.train` calls `open_for(config)` before training (None for every other run) and hands
the denoiser to the run's family (``teacher``). The teacher run (``loss.teacher_run``) is opened
from its config.json and checkpoint ``loss.teacher_step`` (0: its newest; its EMA parameters if
its ``eval.use_ema``), after checking it is a score_sde run on the same data (``data.name``,
which fixes the example shape, and ``data.scale``). Any SDE serves: its network is turned into EDM's
``D(sigma, x)`` in sigma space (`jaxgen.diffusion.edm.denoiser_from_score`: ``t`` with
``sigma_t / alpha_t = sigma``, the input scaled by ``alpha_t``, Tweedie's denoiser; a VP teacher
is thus converted exactly), provided the levels it was trained on, ``sigma_t / alpha_t`` for t
in [its loss.eps, T], cover the consistency run's [model.sigma_min, model.sigma_max]; a
conditional teacher gives its unconditional (null-label) denoiser. A mismatch, a missing run or
step is one `ConfigError` / FileNotFoundError before anything is written.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import jax.numpy as jnp

from jaxgen.diffusion import edm
from jaxgen.models import score_sde
from jaxgen.runtime import config as cfg_lib
from jaxgen.runtime import workdir as workdir_lib
from jaxgen.tools import guide_run

KEY = 'config.loss.teacher_run'


def sigma_range(teacher_config) -> tuple[float, float]:
  """``(sigma(eps), sigma(T))`` of EDM's ``sigma = exp(-log_snr / 2)`` over the times the
  teacher was trained on (its ``loss.eps`` to T)."""
  sde = score_sde.make_sde(teacher_config.model)
  level = lambda t: math.exp(-0.5 * float(sde.log_snr(jnp.float32(t))))
  return level(float(teacher_config.loss.eps)), level(float(sde.T))


def check_configs(config, teacher, where: str) -> None:
  """Refuses a teacher run that cannot be distilled into `config`'s run (one line naming the
  key): another family, other data or scaling, noise levels that do not cover the run's."""
  if teacher.model.family != 'score_sde':
    raise cfg_lib.ConfigError(f'{where} is a {teacher.model.family} run; consistency '
                              'distillation needs a score_sde run (experiments/score_sde/...)')
  for key in ('name', 'scale'):
    a, b = teacher.data[key], config.data[key]
    if a != b:
      raise cfg_lib.ConfigError(f"{where}: the teacher's data.{key}={a!r} is not this run's "
                                f'data.{key}={b!r}; distil a run trained on the same data')
  low, high = sigma_range(teacher)
  mc = config.model
  if low > mc.sigma_min * (1 + 1e-4) or high < mc.sigma_max * (1 - 1e-4):
    raise cfg_lib.ConfigError(
        f"{where}: the teacher's {teacher.model.sde} was trained on noise levels sigma in "
        f'[{low:.3g}, {high:.3g}], which do not cover this run\'s [model.sigma_min, '
        f'model.sigma_max] = [{mc.sigma_min:g}, {mc.sigma_max:g}]: set them inside it')


def open_for(config) -> Optional[Callable]:
  """The teacher denoiser ``D(sigma [b], x)`` of a consistency run with ``loss.method='cd'``
  (the teacher opened and checked now; reads only), else None."""
  if config.model.family != 'consistency' or config.loss.method != 'cd':
    return None
  workdir, step = config.loss.teacher_run, int(config.loss.teacher_step)
  where = f'{KEY}={workdir}'
  teacher_config = workdir_lib.read_config(workdir, KEY)
  check_configs(config, teacher_config, where)
  teacher = guide_run.open_at(workdir, step, where, 'config.loss.teacher_step')
  print(f'Distilling {workdir} (score_sde, step {teacher.step})', flush=True)
  sde = score_sde.make_sde(teacher.config.model)
  score, params = teacher.model.extras['score'], teacher.params
  return edm.denoiser_from_score(sde, lambda t, x: score(params, t, x))
