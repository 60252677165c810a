"""Running a table's planned steps (`jaxgen.tables.plan`): each one process, in order.

Every step not done runs as its own process of the launch CLIs in the repository root (its
output streams to the console) and the build stops at the first failure (its exit status is
returned): rerunning the same table command resumes where it stopped, since every step is itself
resumable or atomic. A SIGTERM or SIGINT sent to the build is handed to the running step (which
stops as on preemption: launch.train saves its step), the build waits for it and returns
``128 + signal``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from jaxgen.runtime import config as cfg_lib
from jaxgen.store import paths
from jaxgen.tables import plan as table_plan


def _run(argv: list, env: dict) -> tuple[int, int]:
  """``(exit status, signal)``: runs `argv` in its own process group (so a terminal's Ctrl-C
  reaches it once, through this process) and hands it each SIGTERM / SIGINT this process gets
  until it exits; `signal` is the first one handed on (0: none)."""
  got = []
  child = subprocess.Popen(argv, cwd=table_plan.ROOT, env=env, start_new_session=True)

  def hand_on(signum, frame):
    del frame
    got.append(signum)
    if child.poll() is None:
      child.send_signal(signum)

  handled = (signal.SIGTERM, signal.SIGINT)
  previous = {s: signal.signal(s, hand_on) for s in handled}
  try:
    rc = child.wait()
  finally:
    for s, handler in previous.items():
      signal.signal(s, handler)
  return rc, (got[0] if got else 0)


def execute(steps: list, python: str = sys.executable, log=print) -> int:
  """Runs the steps not done, in order, each a subprocess of `python` in the repository root;
  returns 0, or the exit status of the first that failed (the later ones are not run), or
  ``128 + signal`` after handing a SIGTERM / SIGINT to the running step and waiting for it. An
  evaluation's row file gains ``table_row``: its command and wall time."""
  todo = [s for s in steps if not s.done]
  log(f'table: {len(steps) - len(todo)} of {len(steps)} steps done, {len(todo)} to run')
  env = dict(os.environ,
             PYTHONPATH=table_plan.ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
  for n, step in enumerate(todo, 1):
    try:
      step = table_plan.resolve(step)   # the best step of a run trained by an earlier step
    except cfg_lib.ConfigError as e:
      log(f'table: {step.kind} {step.name}: {e}')
      return 2
    log(f'table: [{n}/{len(todo)}] {step.kind} {step.name}: {step.command()}'
        + (f' ({step.chosen})' if step.chosen else ''))
    if step.out:
      paths.makedirs(os.path.dirname(step.out))
    t0 = time.perf_counter()
    rc, signum = _run([python, *step.argv], env)
    seconds = time.perf_counter() - t0
    if signum:
      log(f'table: stopped by {signal.Signals(signum).name} during {step.kind} {step.name} (its '
          f'exit status {rc}) after {seconds:.0f}s; rerun the same command to resume')
      return 128 + signum
    if rc:
      log(f'table: {step.kind} {step.name} failed (exit status {rc}) after {seconds:.0f}s; '
          'rerun the same command to resume')
      return rc
    if step.kind == 'evaluate':
      record = table_plan.read_row(step.out) or {}
      record['table_row'] = dict(label=step.name, argv=list(step.argv), seconds=seconds,
                                 **({'chosen': step.chosen} if step.chosen else {}))
      paths.write_atomic(step.out, json.dumps(record, indent=2))
    log(f'table: {step.kind} {step.name} done in {seconds:.0f}s')
  return 0
