"""Metric modules of `jaxgen.runtime.evaluate`, each declaring what it computes and needs.

Each module defines ``DECLARATION``, a `Declaration`: the metric names of ``config.eval.metrics``
it computes, what it needs (samples drawn from the model, a samples folder, the FID Inception
weights, a likelihood) and ``build(names, inputs)``, which makes its evaluator from the
`jaxgen.runtime.evaluate.Inputs` of a Run by passing each input explicitly. An evaluator's
``run(params, rng) -> dict`` returns floats named ``eval/<metric>``; it compiles its own functions
once (its own jit cache) and never sees the Run or the trainer. A family's module lists in
``METRICS`` its own metrics (``model.extras['metric/<name>']``, `evaluators.family`) and the
opt-in metrics of these modules it provides the inputs of (``Declaration.opt_in``, e.g. the
score-SDE family's variational bound ``elbo_bpd``).

Importing this package is cheap (no JAX; `declarations` imports the metric modules), so a
command checks files with `check_inception_weights` before it imports JAX.
"""

from __future__ import annotations

import dataclasses
import os
import zipfile
from typing import Any, Callable

from jaxgen.runtime import config as cfg_lib

INCEPTION_HOW = ("pytorch-fid's FID Inception weights (its release file "
                 'pt_inception-2015-12-05-6726825d.pth) converted with `python '
                 'tools/convert_inception_weights.py pt_inception-2015-12-05-6726825d.pth '
                 'inception.npz`')


@dataclasses.dataclass(frozen=True)
class Declaration:
  """names: the metrics of ``config.eval.metrics`` one evaluator computes;
  build: ``(chosen names, evaluate.Inputs) -> evaluator``;
  samples: it draws samples from the model's sampler (a family without one is refused);
  samples_folder: it can read them from ``eval.samples_dir`` instead (a ``launch.sample --num N``
  folder; a table at a scale with ``samples`` draws them first);
  inception_weights: it needs ``eval.inception_weights`` (and may use ``eval.fid_stats``);
  likelihood: it needs the model's ``log_prob``;
  opt_in: only a family that names it in its ``METRICS`` computes it (it needs what only such a
  family provides; other families' configs refuse the name)."""

  names: tuple[str, ...]
  build: Callable[[tuple, Any], Any]
  samples: bool = False
  samples_folder: bool = False
  inception_weights: bool = False
  likelihood: bool = False
  opt_in: bool = False


def declarations() -> tuple[Declaration, ...]:
  """Every metric module's declaration, in evaluation order."""
  from jaxgen.runtime.evaluators import classification
  from jaxgen.runtime.evaluators import classifier_features
  from jaxgen.runtime.evaluators import elbo
  from jaxgen.runtime.evaluators import inception
  from jaxgen.runtime.evaluators import likelihood
  from jaxgen.runtime.evaluators import loss
  from jaxgen.runtime.evaluators import sample_quality
  from jaxgen.runtime.evaluators import variational_dequantization

  return tuple(m.DECLARATION for m in (loss, likelihood, elbo, variational_dequantization,
                                       sample_quality, classification, classifier_features,
                                       inception))


def metric_names() -> tuple[str, ...]:
  """The metric names the evaluators compute for every family (a family adds its own and the
  opt-in ones it provides: its ``METRICS``)."""
  return tuple(name for d in declarations() if not d.opt_in for name in d.names)


def declaring(names) -> list[tuple[Declaration, tuple[str, ...]]]:
  """``(declaration, its names among `names`)`` for each evaluator that computes some of them."""
  out = []
  for d in declarations():
    chosen = tuple(m for m in d.names if m in names)
    if chosen:
      out.append((d, chosen))
  return out


def check_inception_weights(path: str, key: str = 'config.eval.inception_weights') -> None:
  """ConfigError naming `key` (the config key or flag that gave `path`) and the fix unless `path`
  is a readable .npz (a file, a whole zip archive: every member's CRC checked)."""
  if not path:
    raise cfg_lib.ConfigError(f'{key} is empty: FID and the Inception Score need {INCEPTION_HOW}; '
                              f'give {key}=inception.npz')
  if os.path.isdir(path):
    raise cfg_lib.ConfigError(f'{key}={path} is a folder, not the weights .npz ({INCEPTION_HOW})')
  if not os.path.isfile(path):
    raise cfg_lib.ConfigError(f'{key}={path}: no such file ({INCEPTION_HOW})')
  try:
    with zipfile.ZipFile(path) as z:
      bad = z.testzip()
  except (zipfile.BadZipFile, OSError, EOFError) as e:
    bad = f'{type(e).__name__}: {e}'
  if bad is not None:
    raise cfg_lib.ConfigError(f'{key}={path} is no readable .npz (cut short? {bad}); convert '
                              f'it again: {INCEPTION_HOW}')
