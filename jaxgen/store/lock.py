"""One writer per workdir: ``with lock.hold(workdir, command): ...``.

The holder creates ``<workdir>/lock.json`` exclusively (``O_CREAT | O_EXCL``) with its host, pid,
process start time, wall-clock start and command, and removes it on exit (also on an exception).
A second holder is refused at once (`Locked`, a ValueError like every user mistake: exit 2) with one line naming
the holder. A lock left by a dead process on this host (its pid gone, or reused by a process that
started later, read from /proc/<pid>/stat, or from before a reboot) is stale: it is taken over
under a short-lived guard file (``lock.json.takeover``, also created exclusively), by an atomic
replace that is re-read to confirm ownership; two starts racing for one stale lock get one
winner. A lock from another host cannot be checked from here: it is refused, naming the file to
delete if that host's run is dead. In a multi-process run only process 0 locks.

Creating the lock is also where a workdir that cannot be written is found (a file, under a file,
read-only, a full disk): one line naming the folder, and nothing left behind (a workdir created
only to hold the lock is removed again). Every file operation is one of the small helpers at the
top of this module, on `jaxgen.store.paths` (local paths: plain `os`, as before).

On an object store (``--workdir gs://bucket/run``) the lock is created with
`paths.create_exclusive` (GCS ``ifGenerationMatch=0``: of two racing starts exactly one wins).
There the holder is usually on another machine, so a pid says nothing: the record also carries a
``heartbeat`` (seconds since the epoch) that a daemon thread of the holder refreshes every
`HEARTBEAT_S`; a lock whose heartbeat is older than `liveness.STALE_S` is stale and taken over as
above (guard file, replace, re-read). A lock from this very host and boot is also checked by its pid, as
locally. Limits: this trusts the hosts' clocks to agree within a minute or so (NTP, as on cloud
VMs); a holder that is alive but could not refresh its heartbeat for `liveness.STALE_S` (the store
unreachable that long) can lose its lock to a new start; a lock on a store without conditional
writes (not ``gs://``) is only as exclusive as fsspec's ``mode='create'`` there.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sys
import threading
import time
from typing import Iterator, Optional

from jaxgen.store import liveness
from jaxgen.store import paths

LOCK = 'lock.json'
_GUARD_SUFFIX = '.takeover'
_GUARD_STALE_S = 30.0   # a takeover guard older than this was left by a crash mid-takeover
# On an object store: the holder refreshes its heartbeat this often (`liveness.STALE_S`: stale).
HEARTBEAT_S = 60.0


# Workdirs (real paths) this process holds, with the nesting depth: a nested `hold` re-enters.
_HELD: dict[str, int] = {}


class WorkdirError(ValueError):
  """The workdir cannot be written (a file, under a file, read-only, a full disk); the message
  names it and says the fix. (This module imports only the standard library.)"""


class Locked(WorkdirError):
  """The workdir is held by another run (or its lock cannot be read); the message names it."""


def check_folder(workdir: str, what: str = '--workdir') -> None:
  """Refuses (WorkdirError) a `workdir` that is a file or lies under a file; reads only. (On an
  object store: only whether an object of that very name exists; there are no folders.)"""
  if not paths.is_local(workdir):
    if paths.isfile(workdir):
      raise WorkdirError(f'{what}={workdir} is a file, not a folder; choose a folder (a new one '
                         'is created)')
    return
  path = os.path.abspath(workdir)
  if os.path.exists(path) and not os.path.isdir(path):
    raise WorkdirError(f'{what}={workdir} is a file, not a folder; choose a folder (a new one is '
                       'created)')
  parent = os.path.dirname(path)
  while not os.path.exists(parent) and os.path.dirname(parent) != parent:
    parent = os.path.dirname(parent)
  if os.path.exists(parent) and not os.path.isdir(parent):
    raise WorkdirError(f'{what}={workdir} lies under {parent}, which is a file, not a folder; '
                       'choose a --workdir outside it')


def os_error_message(e: OSError, workdir: str, what: str = '--workdir') -> str:
  """One line for an OSError met writing into `workdir`: the folder named, the fix said."""
  where, name = f'{what}={workdir}', e.filename or workdir
  if e.errno == errno.ENOSPC:
    return (f'{where}: no space left on the device (writing {name}); free some space or choose a '
            '--workdir on another disk')
  if e.errno == errno.EDQUOT:
    return f'{where}: disk quota exceeded (writing {name}); free some space or choose another --workdir'
  if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
    return (f'{where} is not writable ({e.strerror}: {name}); fix its permissions or choose a '
            'writable --workdir')
  if e.errno in (errno.ENOTDIR, errno.EEXIST):
    return f'{where} is not a folder ({e.strerror}: {name}); choose a folder'
  return f'{where}: cannot write there ({e.strerror or e}: {name})'


# ---- file operations (the one place that touches the file system) ----------------------------

def _join(workdir: str, name: str) -> str:
  return paths.join(workdir, name)


def _create_exclusive(path: str, text: str) -> bool:
  """Creates `path` holding `text`; False if it exists. Removes a half-written file on error."""
  return paths.create_exclusive(path, text)


def _replace(path: str, text: str) -> None:
  """Writes `text` to `path` atomically (a temporary file renamed over it; remotely one upload)."""
  paths.write_atomic(path, text)


def _read(path: str) -> Optional[str]:
  try:
    return paths.read_text(path)
  except FileNotFoundError:
    return None


def _remove(path: str) -> None:
  paths.remove(path)


def _age_s(path: str) -> float:
  """Seconds since `path` was written: its mtime locally; remotely the heartbeat in its record
  (the guard holds the record of the start that made it), a long time if it has none."""
  if not paths.is_local(path):
    text = _read(path)
    if text is None:
      return 0.0
    try:
      return time.time() - float((_parse(text) or {})['heartbeat'])
    except (KeyError, TypeError, ValueError):
      return float('inf')
  try:
    return time.time() - os.path.getmtime(path)
  except FileNotFoundError:
    return 0.0


def _make_dirs(workdir: str) -> list[str]:
  """Creates `workdir` and missing parents; returns the folders created (deepest first). On an
  object store: nothing (no folders there)."""
  if not paths.is_local(workdir):
    return []
  created = []
  path = os.path.abspath(workdir)
  while not os.path.exists(path):
    created.append(path)
    parent = os.path.dirname(path)
    if parent == path:
      break
    path = parent
  os.makedirs(workdir, exist_ok=True)
  return created


def _remove_if_empty(folders: list[str]) -> None:
  for folder in folders:  # deepest first
    try:
      os.rmdir(folder)
    except OSError:
      return


class _Heartbeat:
  """A daemon thread refreshing the ``heartbeat`` of the lock record at `path` every
  `HEARTBEAT_S` while the lock is ours (its token); stops when told or when the lock is lost."""

  def __init__(self, path: str, record: dict):
    self.path, self.record = path, dict(record)
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._run, name='jaxgen-lock-heartbeat', daemon=True)
    self._thread.start()

  def _run(self) -> None:
    while not self._stop.wait(HEARTBEAT_S):
      try:
        now = _parse(_read(self.path))
        if not now or now.get('token') != self.record['token']:
          print(f'jaxgen.store.lock: the lock {self.path} is no longer this run\'s (taken over '
                'after a missed heartbeat?); this run no longer holds its workdir',
                file=sys.stderr, flush=True)
          return
        self.record['heartbeat'] = time.time()
        _replace(self.path, json.dumps(self.record, indent=2))
      except Exception as e:  # noqa: BLE001  (the store unreachable for a moment: try again)
        print(f'jaxgen.store.lock: could not refresh the heartbeat of {self.path} '
              f'({type(e).__name__}: {e})', file=sys.stderr, flush=True)

  def stop(self) -> None:
    self._stop.set()
    self._thread.join()


# ---- taking and releasing ---------------------------------------------------------------------

def _parse(text: Optional[str]) -> Optional[dict]:
  try:
    out = json.loads(text or '')
  except ValueError:
    return None
  return out if isinstance(out, dict) else None


def _refusal(path: str, workdir: str, holder: Optional[dict], host: str) -> Locked:
  if holder is None:
    return Locked(f'{path} exists but cannot be read (a start that crashed while taking it?); if '
                  f'no run is using {workdir}, delete {path} and run again')
  age = liveness.heartbeat_age(holder)
  if age is not None:  # an object store's lock
    return Locked(f'{workdir} is in use by another run ({liveness.describe(holder)}; its heartbeat is '
                  f'{age:.0f} s old, a lock is taken over once it is {liveness.STALE_S:.0f} s old): wait '
                  f'for it to finish or stop it, or choose another --workdir; if that run is dead, '
                  f'delete {path} (or wait {max(liveness.STALE_S - age, 0):.0f} s) and run again')
  if holder.get('host') != host:
    return Locked(f'{workdir} is in use by another run ({liveness.describe(holder)}); it runs on another '
                  f"host, so this one cannot tell if it is still alive: if that run is dead, delete "
                  f'{path} and run again')
  return Locked(f'{workdir} is in use by another run ({liveness.describe(holder)}); wait for it to '
                f"finish or stop it (kill {holder.get('pid')}), or choose another --workdir")


def _read_holder(path: str) -> tuple[Optional[str], Optional[dict]]:
  """The lock's text and record; retries briefly while a just-created lock is still empty, and
  on an object store while a read meets the object being replaced (a heartbeat: the read of the
  old generation then finds nothing)."""
  remote = not paths.is_local(path)
  for attempt in range(20):
    text = _read(path)
    if text is None and remote and attempt < 4:
      time.sleep(0.025)
      continue
    if text is None or text.strip():
      return text, _parse(text)
    time.sleep(0.025)
  return text, None


def _take_over(path: str, stale_text: str, mine: str) -> bool:
  """Replaces the stale lock whose text is `stale_text` by `mine` under the takeover guard; True
  if this process now holds the lock."""
  guard = path + _GUARD_SUFFIX
  if not _create_exclusive(guard, mine):
    if _age_s(guard) > _GUARD_STALE_S:
      _remove(guard)  # left by a crash mid-takeover; the next attempt retries
    return False
  try:
    if _read(path) != stale_text:  # someone else took over (or released) meanwhile
      return False
    _replace(path, mine)
    return _read(path) == mine
  finally:
    _remove(guard)


def _acquire(path: str, workdir: str, mine: str, record: dict) -> None:
  remote = not paths.is_local(path)
  for attempt in range(50):
    if _create_exclusive(path, mine):
      return
    text, holder = _read_holder(path)
    if text is None:
      continue  # released meanwhile: try again
    if remote:
      if holder is None or not liveness.stale_remote(holder, record):
        raise _refusal(path, workdir, holder, record['host'])
    elif holder is None or holder.get('host') != record['host'] or not liveness.stale(holder):
      raise _refusal(path, workdir, holder, record['host'])
    if _take_over(path, text, mine):
      print(f'Took over the stale lock {path} of a run that is no longer running '
            f'({liveness.describe(holder)})', flush=True)
      return
    time.sleep(0.02 * (1 + attempt % 5))
  text, holder = _read_holder(path)
  raise _refusal(path, workdir, holder, record['host'])


def _release(path: str, mine: str) -> None:
  """Removes the lock if it is still this run's (the same text; remotely the same token, the
  heartbeat having changed the text)."""
  now = _read(path)
  if now == mine or (now is not None and not paths.is_local(path)
                     and (_parse(now) or {}).get('token') == (_parse(mine) or {}).get('token')):
    _remove(path)


@contextlib.contextmanager
def hold(workdir: str, command: str, is_main: Optional[bool] = None) -> Iterator[None]:
  """Holds ``<workdir>/lock.json`` for the body (creating `workdir` if needed; removed again on
  exit if the body left it empty); a nested `hold` of the same workdir in this process
  re-enters. `command` is recorded for whoever is refused
  (``'launch.train'``). Raises `Locked` if another live run holds it, `WorkdirError` if the
  workdir cannot be written. `is_main` (default ``jax.process_index() == 0``): only the main process of a
  multi-process run locks; the others learn from it (a broadcast) whether it succeeded."""
  import jax

  if is_main is None:
    is_main = jax.process_index() == 0
  several = jax.process_count() > 1
  remote = not paths.is_local(workdir)
  key = paths.abspath(workdir) if remote else os.path.realpath(workdir)
  if key in _HELD:  # this process holds it already (launch.train around loop.train): re-enter
    _HELD[key] += 1
    try:
      yield
    finally:
      _HELD[key] -= 1
    return
  path = _join(workdir, LOCK)
  record = liveness.record(command, remote)
  mine = json.dumps(record, indent=2)
  heartbeat: Optional[_Heartbeat] = None
  created: list[str] = []
  failure: Optional[Exception] = None
  if is_main:
    try:
      check_folder(workdir)
      created = _make_dirs(workdir)
      _acquire(path, workdir, mine, record)
      if remote:
        heartbeat = _Heartbeat(path, record)
    except OSError as e:
      _remove_if_empty(created)
      failure = WorkdirError(os_error_message(e, workdir))
    except (Locked, WorkdirError) as e:
      _remove_if_empty(created)
      failure = e
  if several:  # every process learns whether process 0 got the lock (else they would wait forever)
    from jax.experimental import multihost_utils

    import numpy as np

    ok = int(multihost_utils.broadcast_one_to_all(np.int32(failure is None)))
    if not ok and failure is None:
      failure = Locked(f'{workdir}: process 0 of this run could not take the workdir lock (it '
                       'printed why)')
  if failure is not None:
    raise failure
  _HELD[key] = 1
  try:
    yield
  finally:
    del _HELD[key]
    if heartbeat is not None:
      heartbeat.stop()
    if is_main:
      _release(path, mine)
      _remove_if_empty(created)


def holder(workdir: str) -> Optional[dict]:
  """The record of the run holding `workdir`'s lock, or None (no lock, or unreadable)."""
  path = _join(workdir, LOCK)
  return _parse(_read(path)) if paths.is_local(path) else _read_holder(path)[1]
