"""The image source: a record set of integer images (`jaxgen.data.loaders`; in memory, or read
lazily under the grain pipeline) through the transforms (`jaxgen.data.transforms`), registered as
``digits``, ``fashion_mnist`` and ``tfds:<name>``.

Training batches ``{'x', 'label'}`` walk a per-epoch permutation; binarization, dequantization
and flips are drawn per global batch. ``data.validation`` holds examples of the training split out
of it (`jaxgen.data.validation`); `ImageSource.validation` evaluates them. With ``data.stand_in=True`` a known set (`standin.SETS`)
that is not on this machine is replaced by its synthetic stand-in, and one line says so.
"""

from __future__ import annotations

import copy
from typing import Callable, Optional, Union

import numpy as np

from jaxgen.data import loaders, source, standin, transforms
from jaxgen.data import validation as validation_lib
from jaxgen.data import pipeline as pipeline_lib
from jaxgen.data.loaders import DataNotFoundError, Images, TfdsImages

Records = Union[Images, TfdsImages]


class ImageSource(source.Source):
  """Images of ``load(split)`` for ``data.train_split`` / ``data.eval_split``, the first
  ``data.max_examples`` of each if > 0 (then ``data.validation`` of the training ones held out),
  transformed as ``config.data`` says.

  `load` returns a record set (`jaxgen.data.loaders`); one read lazily (``tfds:``) stays lazy under
  the grain pipeline and is loaded into memory under the memory pipeline."""

  holds_out = True

  def __init__(self, cfg, seed: int, load: Callable[[str], Records],
               fingerprint: Optional[dict] = None):
    super().__init__(cfg, seed)
    train, evaluation = load(cfg.train_split), load(cfg.eval_split)
    self.pipeline = pipeline_lib.choose(cfg, lazy=train.lazy)
    train = self._prepare(train)
    self._eval = self._prepare(evaluation)
    n = int(cfg.get('validation', 0))
    self._train, self._validation = validation_lib.split(train, n, cfg.name)
    held_out = validation_lib.fingerprint(len(train), n)
    self._fingerprint = {**(fingerprint or {}), **held_out} if held_out else fingerprint
    transforms.check(cfg, self._train.num_levels)
    k = transforms.effective_levels(cfg, self._train.num_levels)
    low, high = transforms.value_range(cfg.scale, k)
    self.spec = source.DataSpec(cfg.name, tuple(self._train.shape), low, high, k,
                                self._train.num_classes, cfg.scale, bool(cfg.dequantize))

  def _prepare(self, records: Records) -> Records:
    records = records.take(self.cfg.max_examples)
    if records.lazy and self.pipeline == 'memory':
      records = records.load()
    return records

  @property
  def train_size(self) -> int:
    return len(self._train)

  @property
  def eval_size(self) -> int:
    return len(self._eval)

  @property
  def fingerprint(self) -> Optional[dict]:
    """None for real data without a validation split (the config names it); a stand-in's says so
    (`stand_in`), a validation split's names its held-out examples (`validation.fingerprint`)."""
    return self._fingerprint

  def validation(self) -> Optional['ImageSource']:
    """This source with the held-out validation split as its evaluation split (its
    ``eval_batches``, ``eval_size``: the whole split, evaluated as the evaluation split is), or
    None without one."""
    if self._validation is None:
      return None
    view = copy.copy(self)
    view._eval, view._validation = self._validation, None
    return view

  def _transform(self, images, rng, train, rows=None, total=None):
    return transforms.apply(images, rng, self.cfg, self._train.num_levels, train, rows, total)

  def _global_train_batch(self, step, batch_size):
    images, labels = self._train.read(self._indices(step, batch_size))
    return self._with_label({'x': self._transform(images, source.rng(self.seed, 2, step), True)},
                            labels)

  def _grain_dataset(self, batch_size, rows):
    """Reads and transforms only this host's `rows` of each global batch (`pipeline`)."""

    def host_batch(step):
      images, labels = self._train.read(self._indices(step, batch_size)[rows])
      x = self._transform(images, source.rng(self.seed, 2, step), True, rows, batch_size)
      return self._with_label({'x': x}, labels)

    return pipeline_lib.step_dataset(host_batch)

  def _global_eval_batch(self, idx, batch, draw):
    images, labels = self._eval.read(idx)
    x = self._transform(images, source.rng(self.seed, 3, draw, batch), False)
    return self._with_label({'x': x}, labels)

  def _eval_examples(self, n):
    images, _ = self._eval.read(np.arange(n))
    return self._transform(images, source.rng(self.seed, 4), False)

  @staticmethod
  def _with_label(batch: dict, labels) -> dict:
    if labels is not None:
      batch['label'] = labels
    return batch


def stand_in(cfg, seed: int, missing: DataNotFoundError) -> ImageSource:
  """The synthetic stand-in for ``cfg.name`` (printing one line), or `missing` re-raised with a
  note when the set has none."""
  known = standin.known(cfg.name)
  if known is None:
    raise DataNotFoundError(f'{missing} (data.stand_in=True: there is no stand-in for '
                            f'{cfg.name}; there is for {", ".join(standin.SETS)})') from missing
  shape, levels, classes = known
  print(f'data: {cfg.name} is not on this machine; using a synthetic stand-in of shape {shape}, '
        f'{levels} levels, {classes} classes (smoke runs only)', flush=True)
  fingerprint = {'stand_in': cfg.name, 'shape': list(shape), 'num_levels': levels,
                 'num_classes': classes}
  return ImageSource(cfg, seed, lambda split: standin.images(cfg.name, split), fingerprint)


def _factory(load_of: Callable) -> Callable[..., ImageSource]:
  """``(cfg, seed) -> ImageSource`` reading ``load_of(cfg)(split)``, or the stand-in when the set
  is missing and ``data.stand_in`` is set."""

  def make(cfg, seed):
    try:
      return ImageSource(cfg, seed, load_of(cfg))
    except DataNotFoundError as e:
      if not cfg.get('stand_in', False):
        raise
      return stand_in(cfg, seed, e)

  return make


source.register('digits', _factory(lambda cfg: loaders.digits))
source.register('fashion_mnist',
                _factory(lambda cfg: lambda split: loaders.fashion_mnist(split, cfg.dir)))
source.register('tfds:', _factory(
    lambda cfg: lambda split: TfdsImages(cfg.name[len('tfds:'):], split, cfg.dir)))
