"""The two input pipelines of a source, chosen by ``config.data.pipeline``, giving the same batches.

* ``'memory'``: the split is held in memory and the training batch of step s is drawn for the
  whole global batch, of which each host keeps its share (`Source._global_train_batch`): one
  vectorised gather and transform, no per-example Python.
* ``'grain'``: a `grain.MapDataset` whose element s is this host's share of the global batch of
  step s (`step_dataset`). An image source reads only this host's rows from its record set (a
  `tfds.data_source` over ArrayRecord files, read lazily, or an in-memory split): the index
  sampler is the memory pipeline's (the per-epoch permutations of ``(seed, 1, epoch)``, rows
  ``first_row..`` of step s), the records are read in one batched random access (ArrayRecord's
  parallel ``__getitems__``; a gather in memory), and the transforms give the host's rows exactly
  the noise the global batch gives them (`transforms.apply` with ``rows``). `iterate` reads steps
  start..stop-1 with ``data.threads`` Grain reader threads ahead of the consumer. Random access
  makes the batch of step s a pure function of (seed, s): a resumed run slices the dataset at its
  step and saves no iterator state. (Whole batches, not single examples, are the elements:
  Grain's per-element bookkeeping would dominate small images.)
* ``'auto'``: ``'grain'`` for record sets read lazily (``tfds:<name>``, which may not fit in
  memory), ``'memory'`` for everything else (toy2d, digits, fashion_mnist, stand-ins, pairs).
"""

from __future__ import annotations

from typing import Callable, Iterator

PIPELINES = ('auto', 'memory', 'grain')
# Steps a Grain dataset spans: beyond any run (per-step keys are fold_in(rng, s < 2**30)).
MAX_STEPS = 2**31


def choose(cfg, lazy: bool) -> str:
  """``'memory'`` or ``'grain'`` for ``cfg.pipeline`` (``'auto'``: grain iff `lazy`)."""
  name = cfg.get('pipeline', 'auto')
  if name not in PIPELINES:
    raise ValueError(f'config.data.pipeline={name!r} is not a pipeline; choose one of '
                     + ', '.join(repr(p) for p in PIPELINES))
  threads = cfg.get('threads', 4)
  if not isinstance(threads, int) or threads < 0:
    raise ValueError(f'config.data.threads={threads!r} must be an integer >= 0 (0: read in the '
                     'consumer thread)')
  if name == 'auto':
    return 'grain' if lazy else 'memory'
  return name


def step_dataset(host_batch: Callable[[int], dict]):
  """The `grain.MapDataset` whose element s is ``host_batch(s)`` (steps 0..MAX_STEPS-1)."""
  import grain

  return grain.MapDataset.range(MAX_STEPS).map(host_batch)


def iterate(dataset, start: int, stop: int, threads: int) -> Iterator[tuple[int, dict]]:
  """``(s, dataset[s])`` for s in start..stop-1, read ahead by `threads` Grain threads (0: read
  here, in order). The reader threads stop when this generator is closed or garbage collected."""
  import grain

  if stop <= start:
    return
  options = grain.ReadOptions(num_threads=threads, prefetch_buffer_size=max(2 * threads, 1))
  it = iter(dataset[start:stop].to_iter_dataset(options))
  try:
    for s, batch in zip(range(start, stop), it):
      yield s, batch
  finally:
    close = getattr(it, 'close', None)
    if close is not None:
      close()
