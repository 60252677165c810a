"""Where the loop reports: metrics.jsonl + TensorBoard, and the console progress bar."""

from __future__ import annotations

import json
import os
import sys
import time


class Writer:
  """metrics.jsonl + TensorBoard events (tensorboardX, so no TensorFlow is needed; without
  tensorboardX, e.g. on a bare accelerator image, metrics.jsonl only). Disabled on the processes
  other than 0 of a multi-process run."""

  def __init__(self, workdir: str, enabled: bool):
    self.enabled = enabled
    if not enabled:
      return
    self._jsonl = open(os.path.join(workdir, 'metrics.jsonl'), 'a')
    try:
      from tensorboardX import SummaryWriter
    except ImportError:
      print('jaxgen.runtime.writer: tensorboardX is not installed: metrics go to metrics.jsonl '
            'only', file=sys.stderr)
      self._tb = None
    else:
      self._tb = SummaryWriter(os.path.join(workdir, 'tb'))

  def write(self, step: int, metrics: dict) -> None:
    if not self.enabled:
      return
    clean = {k: float(v) for k, v in metrics.items()}
    self._jsonl.write(json.dumps({'step': step, **clean}) + '\n')
    self._jsonl.flush()
    if self._tb is not None:
      for k, v in clean.items():
        self._tb.add_scalar(k, v, step)
      self._tb.flush()

  def close(self) -> None:
    if self.enabled:
      self._jsonl.close()
      if self._tb is not None:
        self._tb.close()


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
