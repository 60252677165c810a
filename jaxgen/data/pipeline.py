"""The two input pipelines of a source, chosen by ``config.data.pipeline``, giving the same batches.

* ``'memory'``: the split is held in memory and the training batch of step s is drawn for the
  whole global batch, of which each host keeps its share (`Source._global_train_batch`). Fastest
  for small sets: one vectorised gather and transform, no per-example Python (see BENCHMARKS.md).
* ``'grain'``: a `grain.MapDataset` whose element s is this host's share of the global batch of
  step s. For image sources (`image_dataset`) it is built example by example over the record set
  (`grain.MapDataset.source` over a `tfds.data_source` / ArrayRecord, read lazily, or over an
  in-memory split): the index sampler maps this host's row j of step s to the record the memory
  pipeline puts there (position ``s * B + first_row + j`` of the per-epoch permutations of
  ``(seed, 1, epoch)``), each record is read and decoded by its own `map`, and the batch function
  transforms the host's rows with exactly the noise the global batch gives them
  (`transforms.apply` with ``rows``). Other sources (`step_dataset`) map each step to their host
  share. `iterate` reads steps start..stop-1 with ``data.threads`` Grain reader threads ahead of
  the consumer. Random access makes the batch of step s a pure function of (seed, s): a resumed
  run slices the dataset at its step and saves no iterator state.
* ``'auto'``: ``'grain'`` for record sets read lazily (``tfds:<name>``, which may not fit in
  memory), ``'memory'`` for everything else (toy2d, digits, fashion_mnist, stand-ins, pairs).
"""

from __future__ import annotations

from typing import Callable, Iterator, Optional

import numpy as np

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


def image_dataset(records, record_index: Callable[[int], int], rows: slice, batch_size: int,
                  finish: Callable[[int, np.ndarray, Optional[np.ndarray]], dict]):
  """The `grain.MapDataset` of an image source whose element s is this host's batch of step s.

  Args:
    records: the training record set (`jaxgen.data.loaders`: ``rs[i] -> {'image', 'label'}``).
    record_index: global position p (``s * batch_size + row``) -> record index.
    rows: this host's rows of the global batch; batch_size: the global batch size.
    finish: ``(step, images uint8 [b, ...], labels | None) -> batch`` (the transforms).
  """
  import grain

  examples = grain.MapDataset.source(records)
  per_host = rows.stop - rows.start

  def read(k):  # host row k = row j of step s
    s, j = divmod(k, per_host)
    return s, examples[record_index(s * batch_size + rows.start + j)]

  def batch(elements):
    step = elements[0][0]
    first = elements[0][1]
    images = np.empty((len(elements),) + np.shape(first['image']), np.uint8)
    for i, (_, e) in enumerate(elements):
      images[i] = e['image']
    labels = (np.array([e['label'] for _, e in elements], np.int32) if 'label' in first
              else None)
    return finish(step, images, labels)

  return (grain.MapDataset.range(MAX_STEPS * per_host).map(read)
          .batch(per_host, drop_remainder=True, batch_fn=batch))


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
