"""Data: sources behind one interface (`Source`), found by name, with deterministic host-sharded
batches.

``build(config.data, seed)`` returns a `Source`: ``spec`` (a `DataSpec`), ``train_batch(step,
batch_size)`` (a pure function of ``(seed, step)``; each host keeps its contiguous share of the
global batch), ``eval_batches(batch_size)`` (with a ``mask`` entry), ``eval_array(n)``,
``fingerprint``, ``validation()`` (the held-out validation split, ``data.validation``) and
``eval_source()``; see `jaxgen.data.source`. ``train_batches(start, stop,
batch_size)`` walks steps in order. ``data.pipeline`` makes the batches in memory or with a Grain
`MapDataset` (only this host's rows, reader threads, lazy TFDS reads): the same batches either way
(`jaxgen.data.pipeline`).

Sources: ``toy2d:<name>`` (generated, continuous, infinite; `toy2d`), ``digits`` (scikit-learn
8x8, 17 levels), ``fashion_mnist`` (IDX files, 256 levels), ``tfds:<name>`` (any TFDS image set;
all three in `images`), ``pairs:<folder>`` (a reflow coupling, a folder of shards, `pairs`: batches carry ``x`` =
z1 and ``x0`` = z0 of the same examples; evaluation on the source run's data), ``codes:<folder>``
(a VQ-VAE's code grids as K-level images, `codes`), ``synthetic:<H>x<W>x<C>[:<K>]`` (random
8-bit images and labels, for throughput runs; `synthetic`). With
``data.x0.name`` set (a data section of its own), `build` pairs x1 from ``data`` with x0 from
``data.x0`` (`coupling`: batches carry ``x`` and ``x0``, for transfer flows).
``data.x0.coupling='ot'`` (or ``'ot_label'``, within classes) pairs the global batch's data with
its noise (or its x0 source) by an exact minimum-cost assignment (`ot_coupling`, `assignment`).
"""

from __future__ import annotations

import ml_collections

# Importing a source module registers it.
from jaxgen.data import codes, coupling, images, pairs, synthetic, toy2d  # noqa: F401
from jaxgen.data.coupling import build  # noqa: F401  (source.build, or a coupling of two)
from jaxgen.data.source import DataSpec, Source, available, register  # noqa: F401
from jaxgen.data.loaders import DataNotFoundError  # noqa: F401


def defaults() -> ml_collections.ConfigDict:
  """The ``data`` section of every run config, with its defaults (see the module docstring)."""
  d = ml_collections.ConfigDict(dict(
      name='toy2d:moons',   # toy2d:<name> | digits | fashion_mnist | tfds:<name> | pairs:<folder>
      dir='',               # fashion_mnist: folder of the IDX files; tfds: data_dir ('' = default)
      train_split='train',  # pairs: must stay 'train' (every pair is a training example)
      eval_split='test',    # pairs: must stay 'test' (evaluation is on the source run's data)
      scale='none',         # 'unit' [0,1] | 'symmetric' [-1,1] | 'levels' 0..K-1 | 'none' (raw)
      dequantize=False,     # uniform dequantization: x -> (x + u) / K, bins of exactly 1/K
      binarize='none',      # 'none' | 'fixed' (x > threshold) | 'resample' (Bernoulli each visit)
      binarize_threshold=0.5,
      flip=False,           # random horizontal flip of training images
      eval_size=10000,      # toy2d: size of the fixed evaluation sample
      max_examples=0,       # >0: keep only the first N examples of each split (pairs: must be 0)
      validation=0,         # >0: hold out this many examples of the training split (after
                            # max_examples; the same ones for every seed) as a validation split,
                            # never trained on; images only (`jaxgen.data.validation`)
      stand_in=False,       # smoke runs: a known image set missing here is replaced by synthetic
                            # data of its shape, levels and classes (one line printed; the run's
                            # data fingerprint says so, so it never resumes on the real set)
      pipeline='auto',      # 'memory' | 'grain' (a Grain MapDataset; this host's rows only;
                            # lazy reads of tfds sets) | 'auto' (grain for tfds:, else memory);
                            # the batches are the same (`jaxgen.data.pipeline`)
      threads=4,            # grain: reader threads preparing batches ahead (0: in the consumer)
  ))
  # x0 of a data-to-data coupling: a data section of its own ('' = none; `coupling`).
  d.x0 = coupling.x0_defaults(d)
  return d
