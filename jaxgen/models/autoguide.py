"""Autoguidance (Karras et al. 2024, "Guiding a diffusion model with a bad version of itself"):
a run guided by another run of the same family and data, a weaker one (an earlier checkpoint or
a smaller model); the sampling keys, their checks and the guided function.

  sampling.guide_run     the guide run's workdir ('' = no autoguidance; it may be this run)
  sampling.guide_step    its checkpoint step (0: its newest)
  sampling.guide_weight  w of the paper's ``D = D_guide + w (D_main - D_guide)`` (1: the main
                         model alone; the paper's best are about 2 to 3)

The paper's form is `jaxgen.diffusion.classifier_free`'s ``(1 + s) f_cond - s f_uncond`` with
``f_cond = D_main``, ``f_uncond = D_guide`` and ``s = w - 1``; the combination is affine with
weights summing to 1, so guiding the denoiser, the score, the noise or a velocity is the same
thing, and it composes with every sampler that takes a ``(t, x)`` function. A class-conditional
pair is guided at the same labels. The guide's parameters are opened by the sampling command
(`jaxgen.tools.guide_run`); a family samples with ``extras['sample_autoguided'](params, rng, n,
settings, guide, weight)``, ``guide`` a ``(t, x, labels or None) -> f`` function, and exposes
its own ``f`` as ``extras['guide_field'](params, t, x, labels or None)``.

A guide run must be of the main run's family and data (``data.name``, ``data.scale``,
``model.num_classes``) and, for score SDEs, of its SDE (`FAMILY_KEYS`); its network may differ.
`mismatch` compares two configs (the sampling command and a table's plan both refuse by it).
"""

from __future__ import annotations

import math

import ml_collections

from jaxgen.diffusion import classifier_free
from jaxgen.diffusion.classifier_free import Fn


KEY = 'config.sampling.guide_run'
# Keys two runs of a family must share to be a main and a guide (the family's noise process).
FAMILY_KEYS = {'score_sde': ('model.sde', 'model.beta_min', 'model.beta_max', 'model.sigma_min',
                             'model.sigma_max'),
               'rectified_flow': ()}


def _get(config, dotted: str):
  node = config
  for part in dotted.split('.'):
    node = node[part]
  return node


def mismatch(main, guide, where: str) -> str:
  """Why a run of config `guide` cannot guide a run of config `main`, one line beginning with
  `where` and naming the key; '' when it can."""
  fam, gfam = main.model.family, guide.model.family
  if fam not in FAMILY_KEYS:
    return (f'{where}: autoguidance is for {", ".join(FAMILY_KEYS)} runs; this run is {fam} (set '
            f"{KEY}='')")
  if gfam != fam:
    return (f'{where} is a {gfam} run; a {fam} run is guided by a run of its own family (an '
            'earlier checkpoint or a smaller model)')
  for key in ('data.name', 'data.scale', 'model.num_classes') + FAMILY_KEYS[fam]:
    a, b = _get(guide, key), _get(main, key)
    if a != b:
      return (f"{where}: the guide's {key}={a!r} is not this run's {key}={b!r}; guide with a run "
              'trained on the same data and noise process')
  return ''


def add_defaults(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """Adds the autoguidance keys (listed above) to a family's defaults ``c``."""
  c.sampling.guide_run = ''
  c.sampling.guide_step = 0
  c.sampling.guide_weight = 2.0
  return c


def ranges() -> dict:
  return {
      'sampling.guide_step': (lambda n: n >= 0, ">= 0 (0: the guide run's newest checkpoint)"),
      'sampling.guide_weight': (math.isfinite, 'a finite number (1: no guidance)'),
  }


def config_problems(config) -> list[str]:
  """Autoguidance replaces the unconditional branch of classifier-free guidance and excludes
  classifier guidance: one of them per sampling."""
  s = config.sampling
  if not s.guide_run:
    return []
  out = []
  if float(s.guidance) != 0:
    out.append(f'config.sampling.guide_run={s.guide_run!r} guides with another run in place of '
               f'the unconditional model: set sampling.guidance=0 (now {s.guidance:g}) or '
               "sampling.guide_run=''")
  if s.get('classifier', ''):
    out.append(f'config.sampling.guide_run={s.guide_run!r} and sampling.classifier='
               f"{s.classifier!r}: choose one guidance (set the other to '')")
  return out


def guided(main_fn: Fn, guide_fn: Fn, weight: float) -> Fn:
  """``(t, x) -> guide_fn + weight (main_fn - guide_fn)``; ``weight == 1`` returns ``main_fn``."""
  return classifier_free.classifier_free(main_fn, guide_fn, float(weight) - 1.0)


def nfe_factor(weight: float) -> int:
  """Network evaluations per guided evaluation: 2, or 1 at ``weight == 1``."""
  return classifier_free.nfe_factor(float(weight) - 1.0)
