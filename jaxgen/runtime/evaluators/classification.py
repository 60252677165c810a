"""``accuracy``: a classifier family's accuracy over the evaluation split, at the noise levels it
chooses. The family's ``model.extras['correct'](params, batch, rng) -> {name: [b] 0/1}`` gives,
per example, whether the prediction is right at each level (e.g. ``accuracy`` at t = eps and
``accuracy_t0.5``; see `jaxgen.models.classifier`); each is averaged over the real examples of
every batch (the padding of a last batch is masked out) and reported as ``eval/<name>``. Batch i
draws its noise from ``fold_in(rng, 500 + i)``."""

from __future__ import annotations

import jax
import numpy as np

from jaxgen.runtime import config as cfg_lib
from jaxgen.runtime import evaluators
from jaxgen.runtime import parallel

DECLARATION = evaluators.Declaration(
    names=('accuracy',), build=lambda names, i: Evaluator(names, i.correct_fn, i.batches, i.mesh))


class Evaluator:

  def __init__(self, names, correct_fn, batches, mesh):
    """correct_fn: ``(params, batch, rng) -> {name: [b]}`` or None (the family has none);
    batches: ``draw -> iterator`` of sharded evaluation batches with a ``mask``."""
    if correct_fn is None:
      raise cfg_lib.ConfigError(f'this family is no classifier (model.extras has no \'correct\'): '
                                f'remove {"/".join(names)} from config.eval.metrics')
    rep, bat = parallel.replicated(mesh), parallel.batch_sharding(mesh)
    self._correct = jax.jit(correct_fn, in_shardings=(rep, bat, rep), out_shardings=bat)
    self._batches = batches

  def run(self, params, rng) -> dict:
    hits: dict = {}
    for i, batch in enumerate(self._batches(0)):
      mask = parallel.to_host(batch.pop('mask')).astype(bool)
      out = parallel.to_host(self._correct(params, batch, jax.random.fold_in(rng, 500 + i)))
      for name, v in out.items():
        hits.setdefault(name, []).append(np.asarray(v)[mask])
    return {f'eval/{k}': float(np.mean(np.concatenate(v))) for k, v in hits.items()}
