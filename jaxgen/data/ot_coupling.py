"""Minibatch optimal-transport coupling over the global batch (Tong et al. 2023; Pooladian et al.
2023): ``data.x0.coupling``.

``data.x0.coupling`` says how ``batch['x0']`` is paired with ``batch['x']``:

* ``'independent'`` (default): as before, x0 ~ N(0, I) drawn by the model on the device, or the
  x0 source's batch as it comes (`jaxgen.data.coupling`); no ``x0`` is added here;
* ``'ot'``: the x0 of the WHOLE global batch (N(0, I) noise drawn on the host, or the x0 source's
  batch with ``data.x0.name`` set) is permuted so that ``x0[i]`` is the point an exact assignment
  under the squared-Euclidean cost gives to ``x[i]`` (`jaxgen.data.assignment`: the data keep
  their order and labels, only x0 moves);
* ``'ot_label'``: the same within each class (``batch['label']``): x0[i] never comes from a
  position of another label, so a class-conditional flow learns each class's OT coupling. It
  needs a labelled source and noise x0 (an x0 source's examples carry no labels here).

Pure in (seed, step): the noise of training batch s is ``rng(seed, 12, s)`` (its own stream,
`jaxgen.data.source.rng`), N(0, I) float32 of the global batch's shape; the assignment is solved
on every host for the whole global batch, and only then does each host keep its contiguous share
(`Source.train_batch`), so the pairs are the same on any number of devices and processes and a
resumed run sees the batches it would have seen. Every host reads the whole global batch.

Evaluation batches carry the same OT pairing of their own global batch (noise ``rng(seed, 13,
draw, batch)``; the padded last batch is paired with its repeats and masked as usual), so
``eval/loss`` and the validation loss are the training objective on held-out data; they depend on
``eval.batch_size`` as the training loss on ``train.batch_size``, and are comparable between runs
of one coupling only (compare couplings on sample metrics: sliced_wasserstein, straightness, FD).
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from jaxgen.data import assignment
from jaxgen.data import source

KINDS = ('independent', 'ot', 'ot_label')
TRAIN_STREAM, EVAL_STREAM = 12, 13


def kind(cfg) -> str:
  """``cfg.x0.coupling`` of a data section ('independent' when it has none)."""
  x0 = cfg.get('x0')
  return 'independent' if x0 is None else x0.get('coupling', 'independent')


def wrap(cfg, seed: int, make_inner: Callable[[], source.Source]) -> source.Source:
  """The source `make_inner()` as is for ``'independent'``, else an `OTSource` over it; a
  ValueError naming ``data.x0.coupling`` before any data is read for a value or combination it
  cannot pair."""
  k = kind(cfg)
  if k not in KINDS:
    raise ValueError(f'config.data.x0.coupling={k!r} is not a coupling; choose one of: '
                     + ', '.join(KINDS))
  if k == 'independent':
    return make_inner()
  if cfg.name.startswith('pairs:'):
    raise ValueError(f'config.data.x0.coupling={k!r} cannot re-pair data.name={cfg.name!r} (its '
                     "pairs are a flow's coupling): set data.x0.coupling='independent'")
  if k == 'ot_label' and cfg.x0.get('name'):
    raise ValueError(f"config.data.x0.coupling='ot_label' needs the x0 noise, but data.x0.name="
                     f"{cfg.x0.name!r} gives examples without labels: use data.x0.coupling='ot'")
  return OTSource(cfg, seed, make_inner())


class OTSource(source.Source):
  """`inner`'s batches with ``x0`` paired to ``x`` by the global-batch assignment (module
  docstring)."""

  def __init__(self, cfg, seed: int, inner: source.Source):
    self.holds_out = inner.holds_out
    super().__init__(cfg, seed)
    self.kind = kind(cfg)
    self._inner = inner
    self.spec = inner.spec
    if self.kind == 'ot_label' and not inner.spec.num_classes:
      raise ValueError(f"config.data.x0.coupling='ot_label' pairs within classes, but data.name="
                       f"{cfg.name!r} has no labels: use data.x0.coupling='ot'")

  @property
  def train_size(self) -> Optional[int]:
    return self._inner.train_size

  @property
  def eval_size(self) -> int:
    return self._inner.eval_size

  @property
  def fingerprint(self) -> Optional[dict]:
    return self._inner.fingerprint

  @property
  def x0_spec(self):
    """The x0 source's `DataSpec` (a data-to-data coupling only)."""
    return self._inner.x0_spec

  def x0_examples(self, n: int) -> np.ndarray:
    """The x0 source's first n evaluation examples (a data-to-data coupling only)."""
    return self._inner.x0_examples(n)

  def eval_source(self) -> dict:
    return self._inner.eval_source()

  def validation(self) -> Optional[source.Source]:
    held_out = self._inner.validation()
    return None if held_out is None else OTSource(self.cfg, self.seed, held_out)

  def _paired(self, batch: dict, noise: np.random.Generator) -> dict:
    x = batch['x']
    x0 = batch['x0'] if 'x0' in batch else noise.standard_normal(x.shape, np.float32)
    labels = batch['label'] if self.kind == 'ot_label' else None
    return {**batch, 'x0': x0[assignment.pairing(x, x0, labels)]}

  def _global_train_batch(self, step, batch_size):
    batch = self._inner._global_train_batch(step, batch_size)
    return self._paired(batch, source.rng(self.seed, TRAIN_STREAM, step))

  def _global_eval_batch(self, idx, batch, draw):
    out = self._inner._global_eval_batch(idx, batch, draw)
    return self._paired(out, source.rng(self.seed, EVAL_STREAM, draw, batch))

  def _eval_examples(self, n):
    return self._inner._eval_examples(n)
