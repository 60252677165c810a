"""Autoguided sampling: a run guided by another run of the same family and data
(`jaxgen.models.autoguide`; ``sampling.guide_run``, ``guide_step``, ``guide_weight``).

    python -m launch.sample --workdir RUN --config.sampling.guide_run=RUN \
        --config.sampling.guide_step=2000 --config.sampling.guide_weight=2

The guide run is opened from its config.json and its checkpoint ``guide_step`` (0: its newest;
its EMA parameters if its ``eval.use_ema``), after its config was checked against the main
run's: the same family, data (``data.name``, ``data.scale``, then the example shape, levels and
classes), and for score SDEs the same SDE (``model.sde`` and its betas or sigmas); the time
convention is the family's. Its network may differ (a smaller model). A mismatch, a missing run
or step is one `ConfigError` / FileNotFoundError before anything is written. The main run's
sampler then draws with ``extras['sample_autoguided']`` (every sampler of the family).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from jaxgen.models import autoguide
from jaxgen.runtime import config as cfg_lib
from jaxgen.runtime import run as run_lib
from jaxgen.runtime import samples as samples_lib
from jaxgen.runtime import workdir as workdir_lib
from jaxgen.store import paths


def check_configs(main, guide, where: str) -> None:
  """Refuses a guide run whose config cannot guide the main run's (`autoguide.mismatch`)."""
  problem = autoguide.mismatch(main, guide, where)
  if problem:
    raise cfg_lib.ConfigError(problem)


def check_specs(main_spec, guide_spec, where: str) -> None:
  """Refuses data of another example shape, number of levels or classes."""
  for field in ('shape', 'num_levels', 'num_classes'):
    a, b = getattr(guide_spec, field), getattr(main_spec, field)
    if a != b:
      raise cfg_lib.ConfigError(f"{where}: the guide's data has {field}={a!r}, this run's "
                                f'{field}={b!r}; guide with a run of the same data')


def open_guide(run) -> run_lib.Run:
  """The guide run of `run`'s sampling section, checked, with its params restored; reads only."""
  s = run.config.sampling
  workdir, step = s.guide_run, int(s.guide_step)
  where = f'{autoguide.KEY}={workdir}'
  config = workdir_lib.read_config(workdir, autoguide.KEY)
  check_configs(run.config, config, where)
  guide = open_at(workdir, step, where, 'config.sampling.guide_step')
  check_specs(run.data.spec, guide.data.spec, where)
  return guide


def draw_for(run, guide=None) -> Callable:
  """The autoguided ``draw(params, rng, n, settings) -> (x, info)`` (numpy, as `samples.sampler`)
  of `run` (its ``params`` the main run's), guided by `guide` (default: `open_guide`, opened and
  checked now). `launch.sample` passes it to `samples.write` or `chunked.write_chunks`,
  `launch.evaluate` to the evaluators."""
  guide = open_guide(run) if guide is None else guide
  weight = float(run.config.sampling.guide_weight)
  sample_guided = run.model.extras['sample_autoguided']
  field = guide.model.extras['guide_field']

  def sample(params, rng, n, settings):
    g = lambda t, x, labels: field(params['guide'], t, x, labels)
    return sample_guided(params['main'], rng, n, settings, g, weight)

  draw = samples_lib.sampler(dataclasses.replace(run.model, sample=sample), run.mesh)
  return lambda params, rng, n, settings: draw({'main': params, 'guide': guide.params}, rng, n,
                                               settings)


def record(run, guide) -> dict:
  """What a result guided by `guide` records: the guide's workdir, its checkpoint step (the one
  opened, also where ``guide_step`` was 0) and the weight."""
  return {'run': paths.abspath(run.config.sampling.guide_run), 'step': guide.step,
          'weight': float(run.config.sampling.guide_weight)}


def open_at(workdir: str, step: int, where: str, step_key: str):
  """The Run of another run `workdir` at checkpoint `step` (0: its newest), refused in one line
  (FileNotFoundError naming `where` or `step_key`) when it has no checkpoint or not that one."""
  present = workdir_lib.checkpoint_steps(workdir)
  if not present:
    raise FileNotFoundError(f'{where} has no checkpoint yet; train it first')
  if step and step not in present:
    raise FileNotFoundError(f'{step_key}={step}: {workdir} has no checkpoint at that step; steps '
                            f'present: {present} (0: the newest)')
  return run_lib.open_run(workdir, step=step or None)
