"""The one resumable writer: a folder of numbered files made by a long generation that may be
killed, verified and resumed (the file protocol: `jaxgen.store.shards`).

``write(folder, kind, plan, sizes, make, index_of)``; the caller says only how file i is made
(``make(i) -> (arrays, record entries)``) and what the index holds. In order:

- refusal: other settings on an existing folder (its ``plan.json``, or the plan in its
  ``index.json``) are refused naming the differing keys (`Refused`, a ValueError: one line, exit 2,
  nothing written); a finished folder with the same plan is only verified, or refused outright
  where the `Kind` says so; ``force`` deletes the folder's own files (`Kind.ours`, nothing else)
  and starts over;
- verify-or-make: a file whose record exists and whose SHA-256 matches it is kept, a damaged one
  named in one line and made again, the missing ones made;
- the folder is written only once the first file was made (a maker that refuses the settings,
  e.g. a sampler, leaves it untouched): the temporary files of killed writes removed,
  ``plan.json`` created (exclusively: of racing processes one writes it);
- processes: collectively (``split=False``: every process makes every file, e.g. a sampler
  sharded over all devices; process 0 alone reads the folder, decides what to make, broadcast to
  the others, and writes) or split (``split=True``: file i belongs to process ``i %
  process_count``, made on its own devices with no collectives; they meet at a barrier);
- the index: process 0 writes ``index.json`` last, once every file is finished (else `Written`
  lists the missing ones and no index is written).
"""

from __future__ import annotations

import dataclasses
import re
import sys
import time
from typing import Callable, Optional

import jax
import numpy as np

from jaxgen.store import paths
from jaxgen.store import shards

_TMP = re.compile(r'\.tmp\d+$')   # `paths.write_atomic`'s temporary files


class Refused(ValueError):
  """Settings that may not continue in a folder; the message names the keys and the fix."""


@dataclasses.dataclass(frozen=True)
class Kind:
  """What a folder holds: its file names and the words of its messages."""
  stem: str                 # numbered files <stem>_00000.npz and their records <stem>_00000.json
  unit: str                 # one item of a file in counts ('sample', 'pair')
  label: str                # the prefix of progress lines ('samples', 'reflow')
  things: str               # the folder's content in refusals ('samples', 'pairs')
  rename: str               # the flag that chooses another folder ('--name', '--out')
  finished_refusal: str = ''   # why a finished folder is refused without force ('': verified)
  derived: tuple = ()       # names of the folder's derived files (a preview and its record)

  def name(self, i: int) -> str:
    return shards.file_name(self.stem, i)

  def ours(self, name: str) -> bool:
    """Whether `name` is a file of such a folder (the only files `force` deletes)."""
    base = _TMP.sub('', name)
    return (base in (shards.PLAN, shards.INDEX) + tuple(self.derived)
            or re.fullmatch(rf'{self.stem}_\d{{5}}\.(npz|json)', base) is not None)


@dataclasses.dataclass
class Written:
  """What `write` did on this process."""
  records: dict             # file index -> record, of the files known finished
  todo: list                # the files this process made
  kept: int                 # items in the files kept
  made: int                 # items in the files made
  seconds: float
  first_seconds: float      # the first file's time (it includes a compilation); 0 if none made
  index: Optional[dict]     # the index written (process 0), else None
  missing: list             # files no process finished (process 0 of a split generation)


def clear(folder: str, kind: Kind) -> None:
  """Deletes the files of `kind` in `folder` (only those: a mistaken folder loses nothing else)."""
  if paths.isdir(folder):
    for name in paths.listdir(folder):
      if kind.ours(name):
        paths.remove(paths.join(folder, name))


def refusal(folder: str, kind: Kind, plan: dict) -> Optional[str]:
  """Why the settings of `plan` may not continue in `folder` (None: they may)."""
  for file, state in ((shards.INDEX, 'finished'), (shards.PLAN, 'unfinished')):
    if not paths.isfile(paths.join(folder, file)):
      continue
    if file == shards.INDEX and kind.finished_refusal:
      return f'{folder} {kind.finished_refusal}'
    old = shards.read_json(paths.join(folder, file)) or {}
    old = old.get('plan', old) if file == shards.INDEX else old
    diff = shards.differing_keys(old, plan)
    if diff:
      shown = ', '.join(diff[:4]) + (' ...' if len(diff) > 4 else '')
      return (f'{folder} holds {state} {kind.things} made with other settings ({shown} differ); '
              f'rerun with the same flags to resume or verify them, choose another '
              f'{kind.rename}, or pass --force to start over')
    return None
  return None


class Progress:
  """A tqdm bar (items/s, ETA) when stderr is a terminal and tqdm is installed, else one line per
  finished file on stdout: ``<label>: <stem> <i>/<n> written: done/total <unit>s (<unit>s/s,
  s)``; nothing at all if `quiet` (e.g. on the processes that do not write)."""

  def __init__(self, total: int, done: int, kind: Kind, prefix: str = '', quiet: bool = False):
    self.total, self.done, self.kind, self.prefix = total, done, kind, prefix
    self.made, self.t0, self.quiet, self.bar = 0, time.perf_counter(), quiet, None
    if sys.stderr.isatty() and not quiet:
      try:
        from tqdm import tqdm
        self.bar = tqdm(total=total, initial=done, unit=kind.unit, unit_scale=True,
                        dynamic_ncols=True, mininterval=1.0, desc=prefix + kind.label)
      except ImportError:
        pass

  def update(self, n: int, i: int, files: int, extra: str = '') -> None:
    self.done += n
    self.made += n
    if self.bar is not None:
      self.bar.update(n)
      return
    if self.quiet:
      return
    dt = time.perf_counter() - self.t0
    k = self.kind
    print(f'{self.prefix}{k.label}: {k.stem} {i}/{files} written: {self.done}/{self.total} '
          f'{k.unit}s ({extra}{self.made / max(dt, 1e-9):.0f} {k.unit}s/s, {dt:.1f}s)', flush=True)

  def close(self) -> None:
    if self.bar is not None:
      self.bar.close()


def barrier(name: str, process_count: int) -> None:
  """All processes of a multi-process JAX run meet here (nothing with one process, or when the
  processes were not started by jax.distributed: then `process_count` was given by the caller)."""
  if jax.process_count() > 1 and process_count == jax.process_count():
    from jax.experimental import multihost_utils
    multihost_utils.sync_global_devices(name)


def _agree(status: int, todo: list[int], n_files: int) -> tuple[int, list[int]]:
  """Process 0's ``(status, todo)`` on every process (a collective with several processes)."""
  if jax.process_count() == 1:
    return status, todo
  from jax.experimental import multihost_utils
  mask = np.zeros(n_files + 1, np.int32)
  mask[0] = status
  mask[1 + np.asarray(todo, np.int64)] = 1
  mask = np.asarray(multihost_utils.broadcast_one_to_all(mask))
  return int(mask[0]), [int(i) for i in np.flatnonzero(mask[1:])]


def _todo(folder: str, kind: Kind, sizes: list[int], mine: list[int],
          prefix: str) -> tuple[dict, list[int]]:
  """``(records of the finished files, indices to make)`` of `mine`; a damaged file: one line."""
  records, todo = {}, []
  for i in mine:
    rec, _, why = shards.verified(folder, kind.name(i), index=i, num=sizes[i])
    if rec is None:
      todo.append(i)
      if why:
        print(f'{prefix}{kind.label}: {folder}/{kind.name(i)}: {why}; it is made again',
              flush=True)
    else:
      records[i] = rec
  return records, todo


def _open(folder: str, kind: Kind, plan: dict, mine: set, process_index: int) -> None:
  """Makes the folder ready for files: the temporary files of this process's killed writes
  removed (process 0 also those of the plan, index and derived files), ``plan.json`` created."""
  paths.makedirs(folder)
  for name in paths.listdir(folder):
    if not (_TMP.search(name) and kind.ours(name)):
      continue
    number = re.match(rf'{kind.stem}_(\d{{5}})\.', name)
    if (int(number.group(1)) in mine) if number else process_index == 0:
      paths.remove(paths.join(folder, name))
  path = paths.join(folder, shards.PLAN)
  if not paths.create_exclusive(path, shards.json_text(plan)):
    if shards.differing_keys(shards.read_json(path) or {}, plan):
      raise Refused(f'{path} was just written with other settings by another process')


def write(folder: str, kind: Kind, plan: dict, sizes: list[int],
          make: Callable[[int], tuple[dict, dict]], index_of: Callable[[list], dict],
          force: bool = False, split: bool = False, process_index: Optional[int] = None,
          process_count: Optional[int] = None) -> Written:
  """Makes the files ``kind.name(i)`` of `folder`, file i holding ``sizes[i]`` items, resuming an
  unfinished folder of the same `plan` (module docstring), and returns what it did. ``make(i)``
  returns the arrays of file i (written with `shards.npz_bytes`) and its record's entries (its
  ``nfe``, if any, is shown in the progress line); ``index_of(records in order)`` the index.
  `process_index` / `process_count` default to JAX's."""
  pi = jax.process_index() if process_index is None else int(process_index)
  pc = jax.process_count() if process_count is None else int(process_count)
  mine = [i for i in range(len(sizes)) if not split or i % pc == pi]
  writes = split or pi == 0
  prefix = f'[process {pi}/{pc}] ' if split and pc > 1 else ''
  status, records, todo, why = 0, {}, list(mine), ''
  if writes:
    why = '' if force else refusal(folder, kind, plan)
    if why:
      status = 2
    elif not force:
      records, todo = _todo(folder, kind, sizes, mine, prefix)
  if not split:
    status, todo = _agree(status, todo, len(sizes))
  if status:
    raise Refused(why or 'process 0 refused these settings (see its error line)')
  if split and force:   # before any process writes a file of its own
    if pi == 0:
      clear(folder, kind)
    barrier('resumable_clear', pc)

  kept = sum(sizes[i] for i in records)
  if records:
    print(f'{prefix}{kind.label}: resuming {folder}: {len(records)} finished {kind.stem}s kept '
          f'({kept} {kind.unit}s, SHA-256 checked), {len(todo)} to make', flush=True)
  bar = Progress(sum(sizes[i] for i in mine), kept, kind, prefix, quiet=not writes)
  t0, first = time.perf_counter(), 0.0
  try:
    for n, i in enumerate(todo):
      arrays, entries = make(i)
      if n == 0 and writes:   # the maker accepted the settings: now the folder may be written
        if force and not split:
          clear(folder, kind)
        _open(folder, kind, plan, set(mine), pi)
      if writes:
        records[i] = shards.write_with_record(folder, kind.name(i), shards.npz_bytes(**arrays),
                                              index=i, num=sizes[i], **entries)
      nfe = entries.get('nfe')
      bar.update(sizes[i], i, len(sizes), f'NFE {nfe}, ' if nfe is not None else '')
      if n == 0:
        first = time.perf_counter() - t0
  finally:
    bar.close()
  if writes and not todo:
    _open(folder, kind, plan, set(mine), pi)
  out = Written(records, todo, kept, sum(sizes[i] for i in todo), time.perf_counter() - t0,
                first, None, [])
  if split:
    barrier('resumable_files', pc)
  if pi != 0:
    return out
  for i in range(len(sizes)):   # the files of the other processes (split), from their records
    if i not in records:
      rec = shards.read_json(paths.join(folder, shards.record_name(kind.name(i))))
      if rec is None or rec.get('num') != sizes[i]:
        out.missing.append(i)
      else:
        records[i] = rec
  if not out.missing:
    out.index = index_of([records[i] for i in range(len(sizes))])
    paths.write_atomic(paths.join(folder, shards.INDEX), shards.json_text(out.index))
  return out
