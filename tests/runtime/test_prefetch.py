"""`prefetch.device_batches`: the batches of `Run.batch`, in order, and a thread that stops."""

import threading
import time

import jax
import numpy as np
import pytest

from jaxgen.runtime import parallel
from jaxgen.runtime import prefetch
from jaxgen.runtime import run as run_lib
from jaxgen.runtime import state as state_lib
from tests.conftest import tiny_config


def _alive():
  return [t for t in threading.enumerate() if t.name == 'jaxgen-prefetch' and t.is_alive()]


def _wait_gone(timeout=5.0):
  t = time.monotonic()
  while _alive() and time.monotonic() - t < timeout:
    time.sleep(0.01)
  return not _alive()


@pytest.fixture(scope='module')
def runs():
  mesh = parallel.make_mesh(2)
  return {p: run_lib.Run(tiny_config(**{'data.pipeline': p}), mesh) for p in ('memory', 'grain')}


@pytest.mark.parametrize('pipeline', ['memory', 'grain'])
def test_yields_the_batches_of_run_batch_in_order(runs, pipeline):
  run = runs[pipeline]
  got = list(prefetch.device_batches(run, 2, 7, depth=2))
  assert [s for s, _ in got] == [2, 3, 4, 5, 6]
  for s, b in got:
    assert b['x'].sharding == parallel.batch_sharding(run.mesh)
    np.testing.assert_array_equal(np.asarray(b['x']), np.asarray(run.batch(s)['x']))
  np.testing.assert_array_equal(np.asarray(got[0][1]['x']),
                                np.asarray(runs['memory'].batch(2)['x']))  # same either way
  assert _wait_gone()


def test_an_empty_range_yields_nothing(runs):
  assert list(prefetch.device_batches(runs['memory'], 5, 5)) == []
  assert _wait_gone()


@pytest.mark.parametrize('pipeline', ['memory', 'grain'])
def test_leaving_the_loop_early_stops_the_thread(runs, pipeline):
  run = runs[pipeline]
  with pytest.raises(KeyboardInterrupt):   # a preemption in the middle of the loop
    with prefetch.device_batches(run, 0, 10**6, depth=3) as batches:
      for step, _ in batches:
        if step == 2:
          raise KeyboardInterrupt
  assert _wait_gone()

  def loop():   # the loop.py form: no `with`; the abandoned iterator is collected and closed
    for step, _ in prefetch.device_batches(run, 0, 10**6):
      if step == 1:
        raise RuntimeError('step failed')

  with pytest.raises(RuntimeError, match='step failed'):
    loop()
  assert _wait_gone()   # closed when the loop dropped it (no gc.collect needed)


def test_a_failing_batch_is_raised_at_its_step(runs):
  run = runs['memory']
  real = run.data.train_batch

  def train_batch(step, *a, **k):
    if step == 3:
      raise ValueError('record 3 is damaged')
    return real(step, *a, **k)

  run.data.train_batch = train_batch
  try:
    seen = []
    with pytest.raises(ValueError, match='record 3 is damaged'):
      for step, _ in prefetch.device_batches(run, 0, 6):
        seen.append(step)
    assert seen == [0, 1, 2]
  finally:
    del run.data.train_batch
  assert _wait_gone()


@pytest.mark.slow  # compiles a train step (~15 s on the shared CPU)
def test_training_on_prefetched_batches_is_training_on_run_batch(runs):
  run = runs['grain']
  trainer = state_lib.Trainer(run)
  state = trainer.init()
  for step, batch in prefetch.device_batches(run, 0, 3):
    state, _ = trainer.train_step(state, batch)
  expected = trainer.init()
  for step in range(3):
    expected, _ = trainer.train_step(expected, runs['memory'].batch(step))
  for a, b in zip(jax.tree.leaves(jax.device_get(state)),
                  jax.tree.leaves(jax.device_get(expected))):
    np.testing.assert_array_equal(a, b)
