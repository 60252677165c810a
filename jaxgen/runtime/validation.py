"""Validation during training: ``train.validation_metric`` on the held-out validation split
(``data.validation``, `jaxgen.data.validation`) at every checkpoint, and the best step so far.

The loop measures the metric at every save of a ``train.checkpoint_every`` step and of the last
step (not at a preemption's save between them), before saving, and logs it to metrics.jsonl as
``val/<metric>`` at that step. Lower is better (the loss, nll, bpd). The best step is the one of
the lowest value (the earliest of equal ones); the checkpointer keeps its checkpoint whatever its
age (`Checkpointer.save`'s ``best``). A resume re-reads the values logged up to the restored step
(`best`), so the best survives it; a table row with ``step='best'`` chooses the same way
(`jaxgen.tables.plan`).
"""

from __future__ import annotations

import math
from typing import Iterable, Optional

from jaxgen.runtime import config as cfg_lib
from jaxgen.runtime import evaluate as evaluate_lib
from jaxgen.runtime import writer as writer_lib


def key(config) -> str:
  """The metrics.jsonl key of a run's validation metric: ``val/<train.validation_metric>``."""
  return 'val/' + config.train.validation_metric


def best(lines: Iterable[dict], name: str,
         steps: Optional[Iterable[int]] = None) -> Optional[tuple[int, float]]:
  """``(step, value)`` of the lowest `name` among the metrics lines `lines` (the earliest step of
  equal ones), only at `steps` if given; None where no line has it."""
  allowed = None if steps is None else set(steps)
  found = [(float(line[name]), int(line['step'])) for line in lines
           if name in line and (allowed is None or int(line['step']) in allowed)]
  if not found:
    return None
  value, step = min(found)
  return step, value


class Tracker:
  """The validation of one launch of a run (`enabled` False without a validation split).

  Built (a metric the family cannot measure refused) before anything is written; `resume` then
  reads back the values logged up to the restored step, after the writer has truncated
  metrics.jsonl to it. ``due(step)``: whether the save of `step` is measured; ``measure(params,
  rng, step)`` evaluates ``val/<metric>`` on the whole validation split (eval.batch_size
  batches), updates ``best_step`` and returns ``{'val/<metric>': value}`` for the writer.
  """

  def __init__(self, run, sampler):
    config = run.config
    self.key = key(config)
    self.every, self.last = config.train.checkpoint_every, config.train.steps
    data = run.data.validation()
    self.enabled = data is not None
    self.best_step: Optional[int] = None
    self._value: Optional[float] = None
    if not self.enabled:
      return
    metric = config.train.validation_metric
    try:
      self._evaluator = evaluate_lib.Evaluator(run, sampler, (metric,), data)
    except cfg_lib.ConfigError as e:
      raise cfg_lib.ConfigError(f'config.train.validation_metric={metric!r}: {e}') from None

  def resume(self, workdir: str, start: int) -> None:
    """Takes the best of the values `workdir`'s metrics.jsonl holds up to step `start`."""
    if not self.enabled:
      return
    found = best((line for line in writer_lib.read_metrics(workdir)
                  if int(line.get('step', start + 1)) <= start), self.key)
    if found is not None:
      self.best_step, self._value = found

  def due(self, step: int) -> bool:
    return self.enabled and (step % self.every == 0 or step == self.last)

  def measure(self, params, rng, step: int) -> dict:
    value = float(self._evaluator(params, rng)['eval/' + self.key[len('val/'):]])
    if math.isfinite(value) and (self._value is None or value < self._value):
      self.best_step, self._value = step, value
    return {self.key: value}
