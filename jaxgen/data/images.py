"""The image source: an in-memory set of integer images (`jaxgen.data.loaders`) through the
transforms (`jaxgen.data.transforms`), registered as ``digits``, ``fashion_mnist`` and
``tfds:<name>``.

Training batches ``{'x', 'label'}`` walk a per-epoch permutation; binarization, dequantization
and flips are drawn per global batch. With ``data.stand_in=True`` a known set (`standin.SETS`)
that is not on this machine is replaced by its synthetic stand-in, and one line says so.
"""

from __future__ import annotations

from typing import Callable, Optional

from jaxgen.data import loaders, source, standin, transforms
from jaxgen.data.loaders import DataNotFoundError, Images


def _first(data: Images, n: int) -> Images:
  if not n:
    return data
  return Images(data.images[:n], None if data.labels is None else data.labels[:n],
                data.num_levels, data.num_classes)


class ImageSource(source.Source):
  """Images of ``load(split)`` for ``data.train_split`` / ``data.eval_split``, the first
  ``data.max_examples`` of each if > 0, transformed as ``config.data`` says."""

  def __init__(self, cfg, seed: int, load: Callable[[str], Images],
               fingerprint: Optional[dict] = None):
    super().__init__(cfg, seed)
    self._train = _first(load(cfg.train_split), cfg.max_examples)
    self._eval = _first(load(cfg.eval_split), cfg.max_examples)
    self._fingerprint = fingerprint
    transforms.check(cfg, self._train.num_levels)
    k = transforms.effective_levels(cfg, self._train.num_levels)
    low, high = transforms.value_range(cfg.scale, k)
    self.spec = source.DataSpec(cfg.name, tuple(self._train.images.shape[1:]), low, high, k,
                                self._train.num_classes, cfg.scale, bool(cfg.dequantize))

  @property
  def train_size(self) -> int:
    return len(self._train.images)

  @property
  def eval_size(self) -> int:
    return len(self._eval.images)

  @property
  def fingerprint(self) -> Optional[dict]:
    """None for real data (the config names it); a stand-in's says so (`stand_in`)."""
    return self._fingerprint

  def _global_train_batch(self, step, batch_size):
    idx = self._indices(step, batch_size)
    x = transforms.apply(self._train.images[idx], source.rng(self.seed, 2, step), self.cfg,
                         self._train.num_levels, True)
    return self._with_label({'x': x}, self._train, idx)

  def _global_eval_batch(self, idx, batch, draw):
    x = transforms.apply(self._eval.images[idx], source.rng(self.seed, 3, draw, batch), self.cfg,
                         self._eval.num_levels, False)
    return self._with_label({'x': x}, self._eval, idx)

  def _eval_examples(self, n):
    return transforms.apply(self._eval.images[:n], source.rng(self.seed, 4), self.cfg,
                            self._eval.num_levels, False)

  @staticmethod
  def _with_label(batch: dict, data: Images, idx) -> dict:
    if data.labels is not None:
      batch['label'] = data.labels[idx]
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
    lambda cfg: lambda split: loaders.tfds_images(cfg.name[len('tfds:'):], split, cfg.dir)))
