"""``loss``: the mean training loss over the evaluation split with dropout off
(``model.loss(..., train=False)``); the other randomness (times, noise) of batch i comes from
``fold_in(rng, i)``. Only full batches count (a padded last batch is used only if it is the sole
one)."""

from __future__ import annotations

import jax
import numpy as np

from jaxgen.runtime import evaluators
from jaxgen.runtime import parallel

DECLARATION = evaluators.Declaration(
    names=('loss',), build=lambda names, i: Evaluator(i.loss_fn, i.batches, i.mesh))


class Evaluator:

  def __init__(self, loss_fn, batches, mesh):
    """loss_fn: ``(params, batch, rng) -> scalar``; batches: ``draw -> iterator`` of sharded
    evaluation batches with a ``mask``."""
    rep, bat = parallel.replicated(mesh), parallel.batch_sharding(mesh)
    self._loss = jax.jit(loss_fn, in_shardings=(rep, bat, rep))
    self._batches = batches

  def run(self, params, rng) -> dict:
    losses = []
    for i, batch in enumerate(self._batches(0)):
      mask = parallel.to_host(batch.pop('mask'))  # the global batch's, on every process
      if mask.all() or i == 0:
        losses.append(float(self._loss(params, batch, jax.random.fold_in(rng, i))))
    return {'eval/loss': float(np.mean(losses))}
