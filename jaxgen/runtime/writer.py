"""Where the loop reports: metrics.jsonl + TensorBoard, and the console progress bar."""

from __future__ import annotations

import io
import json
import sys
import time

from jaxgen.store import paths


METRICS = 'metrics.jsonl'


class Writer:
  """metrics.jsonl + TensorBoard events (tensorboardX, so no TensorFlow is needed; without
  tensorboardX, e.g. on a bare accelerator image, metrics.jsonl only). Disabled on the processes
  other than 0 of a multi-process run.

  A run that starts at step `start` (the restored checkpoint's, 0 for a fresh run) first drops
  what a previous process logged after that step, so the files hold each step once, with the
  values of the run that produced the state: metrics.jsonl is rewritten atomically without the
  lines of steps > `start` (and without a half-written last line), and TensorBoard hides the
  events of steps > `start` (tensorboardX ``purge_step``). With `redo_eval` (the run evaluates
  again at `start`, its final evaluation having been cut short) the evaluation lines at `start`
  go too.
  """

  def __init__(self, workdir: str, enabled: bool, start: int = 0, redo_eval: bool = False):
    self.enabled = enabled
    if not enabled:
      return
    path = paths.join(workdir, METRICS)
    if paths.exists(path):
      truncate(path, start, redo_eval)
    self._jsonl = paths.Appender(path)  # on an object store: the whole file uploaded per flush
    try:
      from tensorboardX import SummaryWriter
    except ImportError:
      print('jaxgen.runtime.writer: tensorboardX is not installed: metrics go to metrics.jsonl '
            'only', file=sys.stderr)
      self._tb = None
    else:
      tb = paths.join(workdir, 'tb')
      if not paths.is_local(tb):
        _route_tensorboard(tb)
      self._tb = SummaryWriter(tb, purge_step=start + 1 if paths.isdir(tb) else None)

  def write(self, step: int, metrics: dict) -> None:
    if not self.enabled:
      return
    clean = {k: None if v is None else float(v) for k, v in metrics.items()}  # None: JSON null
    self._jsonl.write(json.dumps({'step': step, **clean}) + '\n')
    self._jsonl.flush()
    if self._tb is not None:
      for k, v in clean.items():
        if v is not None:
          self._tb.add_scalar(k, v, step)
      self._tb.flush()

  def close(self) -> None:
    if self.enabled:
      self._jsonl.close()
      if self._tb is not None:
        self._tb.close()


class _RemoteEventFile:
  """tensorboardX's record-file interface (write / flush / close) on `paths`: the event file is
  kept in memory and uploaded whole at each flush (an object store cannot append), once more at
  close, and never after (tensorboardX's own GCS writer uploads again from ``__del__``, at exit)."""

  def __init__(self, path: str):
    self.path, self._buf, self._dirty, self._closed = path, io.BytesIO(), False, False

  def write(self, data: bytes) -> None:
    self._buf.write(data)
    self._dirty = True

  def flush(self) -> None:
    if self._dirty and not self._closed:
      paths.write_bytes(self.path, self._buf.getvalue())
      self._dirty = False

  def close(self) -> None:
    self.flush()
    self._closed = True


class _RemoteEventFiles:
  """A tensorboardX writer factory: event files of a remote log folder through `paths`."""

  def open(self, path: str) -> _RemoteEventFile:
    return _RemoteEventFile(path)

  def directory_check(self, path: str) -> None:
    del path  # no folders on an object store


def _route_tensorboard(folder: str) -> None:
  """Makes tensorboardX write event files under the URL `folder` (its scheme: ``gs``, ...)
  through `paths` (gcsfs for ``gs://``, the client every other workdir file uses)."""
  from tensorboardX import record_writer

  record_writer.register_writer_factory(folder.split(':', 1)[0], _RemoteEventFiles())


def _is_eval(line: dict) -> bool:
  return all(k == 'step' or k.startswith('eval/') for k in line)


def truncate(path: str, step: int, drop_eval_at_step: bool = False) -> int:
  """Rewrites the metrics file `path` atomically (a temporary file and a rename) without its lines
  of steps > `step` and its unreadable lines (a line cut by a kill); with `drop_eval_at_step`
  also without the evaluation lines at `step`. Returns the number of lines dropped."""
  kept, dropped, cut = [], 0, False
  with paths.open(path) as f:
    for text in f:
      try:
        line = json.loads(text)
        s = int(line['step'])
      except (ValueError, KeyError, TypeError):
        dropped += 1
        continue
      if s > step or (drop_eval_at_step and s == step and _is_eval(line)):
        dropped += 1
        continue
      cut = cut or not text.endswith('\n')
      kept.append(text if text.endswith('\n') else text + '\n')
  if dropped or cut:
    paths.write_atomic(path, ''.join(kept))
  return dropped


class _LineProgress:
  """The progress bar's interface as plain lines at each log step (used without tqdm)."""

  def __init__(self, total: int, initial: int):
    self.total, self.n, self.t0, self.n0 = total, initial, time.perf_counter(), initial

  def update(self, k: int) -> None:
    self.n += k

  def set_postfix(self, refresh: bool = False, **values) -> None:
    del refresh
    rate = (self.n - self.n0) / max(time.perf_counter() - self.t0, 1e-9)
    extra = ''.join(f', {k} {v}' for k, v in values.items())
    print(f'step {self.n}/{self.total} ({rate:.1f} steps/s{extra})', flush=True)

  def close(self) -> None:
    pass


def progress_bar(total: int, initial: int):
  """A tqdm bar (steps/s, ETA, loss), or progress lines where tqdm is not installed."""
  try:
    from tqdm import tqdm
  except ImportError:
    return _LineProgress(total, initial)
  return tqdm(total=total, initial=initial, unit='step', dynamic_ncols=True, mininterval=1.0)


def read_metrics(workdir: str) -> list[dict]:
  """The lines of the run's metrics.jsonl as dicts, in order (none without the file); a line that
  does not parse (cut short by a kill) is skipped. Training lines carry ``steps_per_sec``,
  evaluation lines ``eval/<name>`` keys; both ``step``."""
  path = paths.join(workdir, METRICS)
  if not paths.isfile(path):
    return []
  out = []
  for text in paths.read_text(path).splitlines():
    try:
      line = json.loads(text)
    except ValueError:
      continue
    if isinstance(line, dict):
      out.append(line)
  return out
