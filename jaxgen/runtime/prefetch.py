"""Batches prepared on the host and put on the devices while the current step runs.

    for step, batch in prefetch.device_batches(run, start, tc.steps):
      state, metrics = run.train_step(state, batch)

`device_batches` yields ``(step, batch)`` for steps start..stop-1 in order, each batch the one
``run.batch(step)`` gives (``run.data.train_batches``: this host's share, sharded over the mesh
by `parallel.shard_batch`), made by one background thread up to `depth` steps ahead. Hand-written
because Grain prepares host batches but does not place them on a mesh, and the memory pipeline
needs the same look-ahead. The thread stops when the iteration ends, when the consumer leaves the
loop early (an exception, a preemption: the iterator is closed by ``with`` or when the loop drops
it) and on `close`; an error in the thread is raised in the consumer at the step it concerns.
"""

from __future__ import annotations

import queue
import threading
from typing import Optional

from jaxgen.runtime import parallel

_END = object()


class device_batches:  # noqa: N801  (used like a generator function)
  """Iterator of ``(step, device batch)`` for steps start..stop-1 (see the module docstring);
  also a context manager that closes it."""

  def __init__(self, run, start: int, stop: int, depth: int = 2,
               batch_size: Optional[int] = None):
    if depth < 1:
      raise ValueError(f'prefetch depth={depth} must be >= 1')
    self._queue: queue.Queue = queue.Queue(maxsize=depth)
    self._stop = threading.Event()
    self._done = False
    bs = run.config.train.batch_size if batch_size is None else batch_size
    host = run.data.train_batches(start, stop, bs)
    # The thread holds no reference to self, so an abandoned iterator is collected and closed.
    self._thread = threading.Thread(target=_produce, args=(host, run.mesh, self._queue, self._stop),
                                    name='jaxgen-prefetch', daemon=True)
    self._thread.start()

  def __iter__(self):
    return self

  def __next__(self):
    if self._done:
      raise StopIteration
    item = self._queue.get()
    if item is _END:
      self.close()
      raise StopIteration
    if isinstance(item, _Failure):
      self.close()
      raise item.error
    return item

  def close(self) -> None:
    """Stops the thread (it finishes the batch in hand) and drops the prepared batches."""
    self._done = True
    self._stop.set()
    while self._thread.is_alive():
      _drain(self._queue)
      self._thread.join(timeout=0.05)
    _drain(self._queue)

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()
    return False

  def __del__(self):
    try:
      self.close()
    except Exception:  # noqa: BLE001  (interpreter shutdown)
      pass


class _Failure:
  def __init__(self, error: BaseException):
    self.error = error


def _drain(q: queue.Queue) -> None:
  try:
    while True:
      q.get_nowait()
  except queue.Empty:
    pass


def _put(q: queue.Queue, item, stop: threading.Event) -> bool:
  """Puts `item` unless `stop` is set first; whether it was put."""
  while not stop.is_set():
    try:
      q.put(item, timeout=0.05)
      return True
    except queue.Full:
      continue
  return False


def _produce(host, mesh, q: queue.Queue, stop: threading.Event) -> None:
  try:
    for step, batch in host:
      if stop.is_set():
        break
      if not _put(q, (step, parallel.shard_batch(batch, mesh)), stop):
        break
    else:
      _put(q, _END, stop)
  except BaseException as e:  # noqa: BLE001  (raised in the consumer)
    _put(q, _Failure(e), stop)
  finally:
    host.close()  # stops the grain reader threads
