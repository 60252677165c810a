"""Who holds a workdir lock and whether that process still runs (`jaxgen.store.lock`).

A lock record names its holder: host, pid, the process's start time (``/proc/<pid>/stat`` field
22, clock ticks since boot), the boot id, a wall-clock start, the command, a random token and, on
an object store, a ``heartbeat`` (seconds since the epoch). A holder on this host is gone when
its pid does not run, the pid now names a process that started later, or the record predates a
reboot; a holder on an object store is gone when its heartbeat is older than ``STALE_S`` (or, on
this very host and boot, by the pid test). Reads /proc only: local files, plain ``open``.
"""

from __future__ import annotations

import datetime
import os
import socket
import time
import uuid
from typing import Optional

STALE_S = 300.0   # on an object store: a heartbeat older than this is a dead holder's


def _read(path: str) -> Optional[str]:
  try:
    with open(path) as f:
      return f.read()
  except OSError:
    return None


def proc_start(pid: int) -> Optional[str]:
  """The start time of process `pid` in clock ticks since boot (/proc/<pid>/stat field 22), or
  None where /proc is unavailable or the process does not exist."""
  text = _read(f'/proc/{pid}/stat') if os.path.isdir('/proc') else None
  if not text:
    return None
  try:
    return text[text.rindex(')') + 2:].split()[19]
  except (ValueError, IndexError):
    return None


def boot_id() -> Optional[str]:
  try:
    return (_read('/proc/sys/kernel/random/boot_id') or '').strip() or None
  except OSError:
    return None


def pid_alive(pid: int) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:  # another user's process
    return True
  except OSError:
    return False
  return True


def record(command: str, remote: bool = False) -> dict:
  pid = os.getpid()
  out = {'host': socket.gethostname(), 'pid': pid,
         'start': datetime.datetime.now().astimezone().isoformat(timespec='seconds'),
         'command': command, 'proc_start': proc_start(pid), 'boot_id': boot_id(),
         'token': uuid.uuid4().hex}
  if remote:
    out['heartbeat'] = time.time()
  return out


def describe(holder: dict) -> str:
  return (f"host {holder.get('host')}, pid {holder.get('pid')}, started {holder.get('start')}"
          f" ({holder.get('command') or 'unknown command'})")


def stale(holder: dict) -> bool:
  """Whether `holder` (a lock record written on this host) is a process that no longer runs."""
  try:
    pid = int(holder['pid'])
  except (KeyError, TypeError, ValueError):
    return False
  boot = boot_id()
  if holder.get('boot_id') and boot and holder['boot_id'] != boot:
    return True  # written before a reboot
  if not pid_alive(pid):
    return True
  recorded, now = holder.get('proc_start'), proc_start(pid)
  return bool(recorded and now and recorded != now)  # the pid now names another process


def heartbeat_age(holder: dict) -> Optional[float]:
  try:
    return time.time() - float(holder['heartbeat'])
  except (KeyError, TypeError, ValueError):
    return None


def stale_remote(holder: dict, record: dict) -> bool:
  """Whether `holder` (a lock record on an object store) no longer runs: its heartbeat is older
  than `STALE_S`, or it ran on this very host and boot and its process is gone (the pid test,
  which a different boot or host cannot make)."""
  age = heartbeat_age(holder)
  if age is not None and age > STALE_S:
    return True
  same_boot = holder.get('boot_id') and holder.get('boot_id') == record.get('boot_id')
  return bool(holder.get('host') == record['host'] and same_boot and stale(holder))
