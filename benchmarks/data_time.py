"""Data time against step time: the digits U-Net step, and the input pipelines side by side.

    JAX_PLATFORMS=cpu .venv/bin/python -m benchmarks.data_time [--steps 20 --repeats 5]

Part 1, the digits U-Net step (experiments/score_sde/digits.py: DDPM++ U-Net nf 16, batch 64),
three loops interleaved run by run, --steps steps each, median of --repeats runs after a compile
run:
  * step_only: `Run.train_step` on batches already on the mesh (the step time);
  * sync: fed by `Run.batch(step)` drawn between steps (the loop before `prefetch`);
  * prefetch: fed by `prefetch.device_batches` (drawn and placed while the step runs).
``data_over_step`` is the data time alone (``Run.batch`` timed without steps, per step) over the
step time; ``exposed_*`` is what each loop adds to step_only, over step_only.

Part 2, the pipelines (`jaxgen.data.pipeline`) on the sets of this machine: time to build the
source (start) and per host batch (``train_batch``, median over --batches steps), memory vs
grain, for digits, fashion_mnist (IDX files, if present) and a mocked TFDS cifar10
(`tfds.testing.mock_data`, no files: the per-record cost of a real ArrayRecord read is not in it),
plus the former tfds loader (every record read one at a time, twice) against ``TfdsImages.load``.
Prints one JSON line with the command and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import jax
import numpy as np

from benchmarks.trainer_overhead import machine
from jaxgen import data as data_lib
from jaxgen.data import loaders
from jaxgen.runtime import config as cfg
from jaxgen.runtime import overrides as overrides_lib
from jaxgen.runtime import prefetch
from jaxgen.runtime import run as run_lib
from jaxgen.runtime import state as state_lib


def unet_step(steps: int, repeats: int) -> dict:
  config = cfg.validate(overrides_lib.apply(cfg.load('experiments/score_sde/digits.py'),
                                            {'train.steps': str(10**6)}))
  run = run_lib.Run(config)
  trainer = state_lib.Trainer(run)
  bs = config.train.batch_size
  placed = [run.batch(s) for s in range(steps)]

  def timed(feed):
    state = trainer.init()
    jax.block_until_ready(state)
    t = time.perf_counter()
    for _, batch in feed():
      state, _ = trainer.train_step(state, batch)
    jax.block_until_ready(state)
    return (time.perf_counter() - t) / steps

  loops = {
      'step_only': lambda: enumerate(placed),
      'sync': lambda: ((s, run.batch(s)) for s in range(steps)),
      'prefetch': lambda: prefetch.device_batches(run, 0, steps),
  }

  def data_alone():
    t = time.perf_counter()
    for s in range(steps):
      jax.block_until_ready(run.batch(s))
    return (time.perf_counter() - t) / steps

  for f in loops.values():
    timed(f)   # compile
  runs = {k: [] for k in loops}
  runs['data_alone'] = []
  for _ in range(repeats):
    for k, f in loops.items():
      runs[k].append(timed(f))
    runs['data_alone'].append(data_alone())
  med = {k: statistics.median(v) for k, v in runs.items()}
  out = {'experiment': 'experiments/score_sde/digits.py', 'batch': bs, 'steps': steps,
         'pipeline': run.data.pipeline,
         'step_ms': 1e3 * med['step_only'], 'data_ms': 1e3 * med['data_alone'],
         'data_over_step': med['data_alone'] / med['step_only']}
  for k in ('sync', 'prefetch'):
    out[f'{k}_ms'] = 1e3 * med[k]
    out[f'exposed_{k}_over_step'] = med[k] / med['step_only'] - 1
    out[f'exposed_{k}_per_repeat'] = [a / b - 1 for a, b in zip(runs[k], runs['step_only'])]
  out['runs_ms'] = {k: [1e3 * x for x in v] for k, v in runs.items()}
  return out


def _per_batch(ds, batch_size: int, n: int) -> float:
  times = []
  for s in range(n):
    t = time.perf_counter()
    ds.train_batch(s, batch_size)
    times.append(time.perf_counter() - t)
  return statistics.median(times)


def _stream(ds, batch_size: int, n: int) -> float:
  t = time.perf_counter()
  for _ in ds.train_batches(0, n, batch_size):
    pass
  return (time.perf_counter() - t) / n


def pipelines(n: int) -> dict:
  sets = {'digits': (dict(name='digits', scale='symmetric'), 64),
          'fashion_mnist': (dict(name='fashion_mnist', scale='unit', dequantize=True), 128)}
  if not os.path.isdir(loaders.FASHION_MNIST_DIR):
    del sets['fashion_mnist']
  out = {}
  for name, (c, bs) in sets.items():
    timings = {p: {'start_s': [], 'train_batch_ms': [], 'train_batches_ms': []}
               for p in ('memory', 'grain')}
    data_lib.build(_data(c, 'memory'), 0)   # warm: imports, file cache
    for _ in range(3):
      for p, t_ in timings.items():
        t = time.perf_counter()
        ds = data_lib.build(_data(c, p), 0)
        t_['start_s'].append(time.perf_counter() - t)
        t_['train_batch_ms'].append(1e3 * _per_batch(ds, bs, n))
        t_['train_batches_ms'].append(1e3 * _stream(ds, bs, n))
    for p, t_ in timings.items():
      out[f'{name}/{p}'] = dict({k: statistics.median(v) for k, v in t_.items()}, batch=bs,
                                runs=t_)
  out.update(_tfds_mock(n))
  return out


def _data(c: dict, pipeline: str):
  d = data_lib.defaults()
  d.update(dict(c, pipeline=pipeline))
  return d


def _former_tfds_load(source):
  """The loader before the grain pipeline: one record at a time, images then labels."""
  n = len(source)
  images = np.stack([np.asarray(source[i]['image']) for i in range(n)])
  labels = np.array([source[i]['label'] for i in range(n)], dtype=np.int32)
  return images, labels


def _tfds_mock(n: int, num_examples: int = 2000) -> dict:
  import tensorflow_datasets as tfds

  out = {}
  with tfds.testing.mock_data(num_examples=num_examples):
    records = loaders.TfdsImages('cifar10', 'train')
    t = time.perf_counter()
    old = _former_tfds_load(records._source)
    t_old = time.perf_counter() - t
    t = time.perf_counter()
    new = records.load()
    t_new = time.perf_counter() - t
    assert np.array_equal(old[0], new.images) and np.array_equal(old[1], new.labels)
    out['tfds_mock_cifar10/load'] = {'records': num_examples, 'former_one_by_one_s': t_old,
                                     'grain_chunks_s': t_new}
    for p in ('memory', 'grain'):
      d = data_lib.defaults()
      d.update(dict(name='tfds:cifar10', scale='symmetric', pipeline=p))
      t = time.perf_counter()
      ds = data_lib.build(d, 0)
      start = time.perf_counter() - t
      out[f'tfds_mock_cifar10/{p}'] = {'batch': 128, 'start_s': start,
                                       'train_batch_ms': 1e3 * _per_batch(ds, 128, n),
                                       'train_batches_ms': 1e3 * _stream(ds, 128, n)}
  return out


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument('--steps', type=int, default=20)
  parser.add_argument('--repeats', type=int, default=5)
  parser.add_argument('--batches', type=int, default=30)
  parser.add_argument('--skip-unet', action='store_true')
  args = parser.parse_args()
  out = {'command': ' '.join([os.path.basename(sys.executable), '-m', __spec__.name]
                             + sys.argv[1:]), 'machine': machine()}
  out['pipelines'] = pipelines(args.batches)
  if not args.skip_unet:
    out['unet_step'] = unet_step(args.steps, args.repeats)
  print(json.dumps(out))


if __name__ == '__main__':
  main()
