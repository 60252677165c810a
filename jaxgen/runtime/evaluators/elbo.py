"""``elbo_bpd``: bits/dim of the variational bound on ``-log p(x)`` (Song, Durkan, Murray &
Ermon 2021; `jaxgen.diffusion.elbo`), the score-SDE family's metric beside the probability-flow
ODE's ``bpd`` (opt-in: a family that names it in its ``METRICS`` provides
``extras['negative_elbo']``, ``(params, batch, rng) -> [b]`` nats, and ``extras['elbo_settings']``,
whose ``describe()`` says how the bound is estimated).

The data, units and keys are those of ``bpd`` (`jaxgen.runtime.evaluators.likelihood`): the
same ``eval.dequant_draws`` passes of the evaluation split, the same dequantization (the same
``eval.dequantize`` noise: each batch key is the one ``bpd`` uses, so the two metrics see the
same dequantized images), the same bits/dim (`jaxgen.metrics.bpd`: the bound in nats becomes an
upper bound in bits/dim of the dequantized data). Reported: ``elbo_bpd`` (mean over examples
and draws), ``elbo_bpd_std`` (over examples of their mean over draws), ``elbo_bpd_draw_std``
(draws > 1), ``elbo_seconds`` and ``elbo_compile_seconds`` (wall time of the passes without
compilation, and the compilation). `examples` gives each example's ``elbo_bpd``, in the split's
order, as ``bpd``'s: a table pairs the two image by image. Its value is an upper bound (the
PF-ODE ``bpd`` is an estimate of the model's own density), and a Monte Carlo one: each example's
value averages ``likelihood.elbo_draws`` draws of (t, z).
"""

from __future__ import annotations

import numpy as np

from jaxgen.metrics import bpd as bpd_lib
from jaxgen.runtime import config as cfg_lib
from jaxgen.runtime import evaluators
from jaxgen.runtime.evaluators import likelihood

NAME = 'elbo_bpd'

DECLARATION = evaluators.Declaration(
    names=(NAME,), opt_in=True,
    build=lambda names, i: Evaluator(
        i.negative_elbo_fn, i.elbo_settings, i.batches, i.mesh, i.spec,
        int(i.eval_config.dequant_draws), bool(i.eval_config.dequantize)))


class Evaluator:

  def __init__(self, negative_elbo_fn, settings, batches, mesh, spec, dequant_draws,
               dequantize_eval):
    """negative_elbo_fn: ``(params, batch, rng) -> [b]`` nats, the bound on ``-log p(x)``;
    settings: its typed settings (``describe() -> str``); the rest as the likelihood
    evaluator's (a continuous density: ``bpd``'s rules on dequantized data)."""
    if negative_elbo_fn is None:
      raise cfg_lib.ConfigError(f"config.eval.metrics: '{NAME}' needs the model's variational "
                                f"bound, which this family lacks: leave '{NAME}' out")
    self._spec = likelihood.evaluated_spec(spec, False, (NAME,), dequantize_eval, NAME)

    def fn(params, batch, rng):
      nelbo = negative_elbo_fn(params, batch, rng)
      return nelbo, nelbo

    self._passes = likelihood.Passes(fn, batches, mesh, spec, self._spec, dequant_draws)
    self._settings, self._draws = settings, dequant_draws
    self._examples: dict = {}

  def identity(self) -> dict:
    """That it is a bound, how it is estimated, and the data's quantization."""
    s = self._spec
    return {NAME: f'variational bound (Song et al. 2021), {self._settings.describe()}; uniformly '
                  f'dequantized, {s.num_levels} levels, data range [{s.low:g}, {s.high:g}], '
                  f'{self._draws} draw(s)'}

  def examples(self) -> dict:
    """``{'elbo_bpd': [examples]}`` of the last `run` (each example averaged over the draws)."""
    return dict(self._examples)

  def run(self, params, rng) -> dict:
    nelbo, _, seconds, compile_s = self._passes(params, rng)
    out, per_example = likelihood.bits_summary(
        NAME, np.asarray(bpd_lib.bits_per_dim(-nelbo, self._spec, False)))
    self._examples = {NAME: per_example}
    return {**out, 'eval/elbo_seconds': float(seconds),
            'eval/elbo_compile_seconds': float(compile_s)}
