"""Synthetic images for throughput runs: the source ``synthetic:<H>x<W>x<C>[:<K>]``, no disk.

Images of shape (H, W, C) with 256 levels and labels in 0..K-1 (K = 10 unless given), drawn
uniformly: training batch s is a pure function of ``(seed, s)`` (`source.rng(seed, 2, s)`: the
images, then the labels, then the transforms' noise), evaluation example i of ``(seed, i)``
(``data.eval_size`` examples, drawn when read: nothing is held in memory). They go through the
image transforms (`jaxgen.data.transforms`: scale, dequantize, binarize, flip), so the `DataSpec`
is what a real 8-bit set of that shape and classes has. The content is noise: time a training
step without the input pipeline with it (``launch.train --config.data.name=synthetic:256x256x3``),
never judge samples or likelihoods on it.
"""

from __future__ import annotations

import re

import numpy as np

from jaxgen.data import source, transforms

PREFIX = 'synthetic:'
LEVELS = 256
CLASSES = 10
_NAME = re.compile(r'(\d+)x(\d+)x(\d+)(?::(\d+))?')


def parse(name: str) -> tuple[tuple[int, int, int], int]:
  """``((H, W, C), K)`` of ``synthetic:HxWxC[:K]``; ValueError naming the key otherwise."""
  m = _NAME.fullmatch(name[len(PREFIX):])
  shape = tuple(int(v) for v in m.groups()[:3]) if m else ()
  classes = int(m.group(4) or CLASSES) if m else 0
  if not m or min(shape) < 1 or classes < 1:
    raise ValueError(f'config.data.name={name!r}: write {PREFIX}<H>x<W>x<C>[:<classes>] with '
                     f'positive sizes, e.g. {PREFIX}32x32x3 (10 classes) or {PREFIX}64x64x3:1000')
  return shape, classes


class Synthetic(source.Source):
  """The ``synthetic:`` source: batches ``{'x': float32 [b, H, W, C], 'label': int32 [b]}``."""

  def __init__(self, cfg, seed: int):
    super().__init__(cfg, seed)
    self.shape, self.classes = parse(cfg.name)
    transforms.check(cfg, LEVELS)
    k = transforms.effective_levels(cfg, LEVELS)
    low, high = transforms.value_range(cfg.scale, k)
    self.spec = source.DataSpec(cfg.name, self.shape, low, high, k, self.classes, cfg.scale,
                                bool(cfg.dequantize))

  @property
  def eval_size(self) -> int:
    return int(self.cfg.eval_size)

  def _draw(self, rng: np.random.Generator, n: int):
    images = rng.integers(0, LEVELS, (n,) + self.shape, dtype=np.uint8)
    return images, rng.integers(0, self.classes, n).astype(np.int32)

  def _eval_images(self, idx):
    drawn = [self._draw(source.rng(self.seed, 7, int(i)), 1) for i in idx]
    return (np.concatenate([d[0] for d in drawn]), np.concatenate([d[1] for d in drawn]))

  def _global_train_batch(self, step, batch_size):
    rng = source.rng(self.seed, 2, step)
    images, labels = self._draw(rng, batch_size)
    x = transforms.apply(images, rng, self.cfg, LEVELS, True)
    return {'x': x, 'label': labels}

  def _global_eval_batch(self, idx, batch, draw):
    images, labels = self._eval_images(idx)
    x = transforms.apply(images, source.rng(self.seed, 3, draw, batch), self.cfg, LEVELS, False)
    return {'x': x, 'label': labels}

  def _eval_examples(self, n):
    images, _ = self._eval_images(range(n))
    return transforms.apply(images, source.rng(self.seed, 4), self.cfg, LEVELS, False)


source.register(PREFIX, Synthetic, PREFIX + '<H>x<W>x<C>[:<classes>]')
