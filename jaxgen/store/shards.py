"""Resumable folders of numbered files: what a long generation that may be killed needs.

A generation writes ``plan.json`` first (how the files are made: a rerun must match it), then each
numbered file atomically (`paths.write_atomic`: a killed write leaves no half file) followed by
its record (``<file>.json``: size, SHA-256, ...), and an ``index.json`` last. A rerun keeps a file
whose record exists and whose bytes match the record's SHA-256 (`verified`), and remakes the
rest. Files are written byte-deterministically (`npz_bytes`), so a file's SHA-256 is a function of
its arrays and a resumed generation writes exactly the bytes of an uninterrupted one.

Used by `jaxgen.tools.chunked` (large-N sampling). `jaxgen.tools.reflow` has its own copy of
these patterns (pairs shards); it could use these functions unchanged.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import time
import zipfile
from typing import Iterator, Optional

import numpy as np

from jaxgen.store import paths

PLAN, INDEX = 'plan.json', 'index.json'


def npz_bytes(**arrays) -> bytes:
  """The ``.npz`` file of `arrays` (in the order given), byte-deterministic: stored (not
  compressed) members with a fixed time stamp (``np.savez`` stamps the current time)."""
  buf = io.BytesIO()
  with zipfile.ZipFile(buf, 'w', zipfile.ZIP_STORED) as zf:
    for key, a in arrays.items():
      info = zipfile.ZipInfo(key + '.npy', date_time=(1980, 1, 1, 0, 0, 0))
      with zf.open(info, 'w', force_zip64=True) as f:
        np.lib.format.write_array(f, np.ascontiguousarray(a), allow_pickle=False)
  return buf.getvalue()


def load_npz_bytes(data: bytes) -> dict:
  with np.load(io.BytesIO(data)) as z:
    return {k: z[k] for k in z.files}


def sha256(data: bytes) -> str:
  return hashlib.sha256(data).hexdigest()


def json_text(d: dict) -> str:
  return json.dumps(d, indent=1, sort_keys=True)


def differing_keys(a: dict, b: dict) -> list[str]:
  """The flattened keys (``sampling.steps``) whose values differ between two plans (compared as
  their JSON text would give them back, so tuples equal lists)."""
  fa, fb = _dotted(json.loads(json_text(a))), _dotted(json.loads(json_text(b)))
  return sorted(k for k in set(fa) | set(fb) if fa.get(k) != fb.get(k))


def _dotted(d: dict, prefix: str = '') -> dict:
  out = {}
  for k, v in d.items():
    out.update(_dotted(v, f'{prefix}{k}.') if isinstance(v, dict) else {prefix + k: v})
  return out


def read_json(p: str) -> Optional[dict]:
  """The JSON object in file `p`, or None if it is missing or unreadable (a damaged record)."""
  if not paths.isfile(p):
    return None
  try:
    d = json.loads(paths.read_text(p))
  except ValueError:
    return None
  return d if isinstance(d, dict) else None


def record_name(file_name: str) -> str:
  return file_name.rsplit('.', 1)[0] + '.json'


def write_with_record(folder: str, file_name: str, data: bytes, **record) -> dict:
  """Writes `file_name` and then its record (each atomically; the record marks it finished) and
  returns the record: ``file``, ``bytes``, ``sha256`` and `record`'s entries."""
  paths.write_atomic(paths.join(folder, file_name), data)
  rec = dict(record, file=file_name, bytes=len(data), sha256=sha256(data))
  paths.write_atomic(paths.join(folder, record_name(file_name)), json_text(rec))
  return rec


def verified(folder: str, file_name: str, **expect) -> tuple[Optional[dict], Optional[bytes],
                                                               str]:
  """``(record, data, why)``: the record and bytes of a finished file (its record exists, holds
  `expect`'s values, and the file's SHA-256 matches it: one read of the file), else ``(None,
  None, why)`` with `why` '' for a file never finished and a short reason for a damaged one."""
  rec = read_json(paths.join(folder, record_name(file_name)))
  path = paths.join(folder, file_name)
  if rec is None or not paths.isfile(path):
    return None, None, ''
  if any(rec.get(k) != v for k, v in expect.items()):
    return None, None, 'its record does not match the plan'
  data = paths.read_bytes(path)
  if rec.get('sha256') != sha256(data):
    return None, None, 'SHA-256 mismatch (the file changed after it was written)'
  return rec, data, ''


class Progress:
  """A tqdm bar (items/s, ETA) when stderr is a terminal and tqdm is installed, else one line per
  finished part on stdout: ``<what>: <part> <i> written: done/total <unit>s (<unit>s/s, s)``;
  nothing at all if `quiet` (e.g. on the processes that do not write)."""

  def __init__(self, total: int, done: int, what: str, unit: str, part: str, prefix: str = '',
               quiet: bool = False):
    self.total, self.done, self.what, self.unit, self.part = total, done, what, unit, part
    self.prefix, self.made, self.t0, self.quiet = prefix, 0, time.perf_counter(), quiet
    self.bar = None
    if sys.stderr.isatty() and not quiet:
      try:
        from tqdm import tqdm
        self.bar = tqdm(total=total, initial=done, unit=unit, unit_scale=True, dynamic_ncols=True,
                        mininterval=1.0, desc=prefix + what)
      except ImportError:
        pass

  def rate(self) -> float:
    return self.made / max(time.perf_counter() - self.t0, 1e-9)

  def update(self, n: int, i: int, parts: str = '', extra: str = '') -> None:
    self.done += n
    self.made += n
    if self.bar is not None:
      self.bar.update(n)
      return
    if self.quiet:
      return
    dt = time.perf_counter() - self.t0
    print(f'{self.prefix}{self.what}: {self.part} {i}{parts} written: {self.done}/{self.total} '
          f'{self.unit}s ({extra}{self.rate():.0f} {self.unit}s/s, {dt:.1f}s)', flush=True)

  def close(self) -> None:
    if self.bar is not None:
      self.bar.close()


def read_index(folder: str, kind: str = 'folder',
               remake: str = 'the command that wrote it') -> dict:
  """The index of a finished folder; FileNotFoundError naming the fix otherwise (`kind` names the
  folder, `remake` the command that makes it)."""
  index = read_json(paths.join(folder, INDEX))
  if index is None:
    state = 'is unfinished (no index.json)' if paths.isdir(folder) else 'does not exist'
    raise FileNotFoundError(f'{kind} {folder} {state}: run (or rerun, it resumes) {remake} with '
                            'the same flags')
  return index


def iterate(folder: str, key: Optional[str] = 'samples', **index_args) -> Iterator:
  """The files of a finished folder in order, one at a time (host memory: one file):
  the array `key` of each (``'samples'``, ``'label'``), or with ``key=None`` the dict of all its
  arrays. Each file's SHA-256 is checked against the index as it is read (ValueError naming the
  file for a damaged one)."""
  for rec in read_index(folder, **index_args)['chunks']:
    path = paths.join(folder, rec['file'])
    data = paths.read_bytes(path)
    if sha256(data) != rec['sha256']:
      raise ValueError(f'{path}: SHA-256 mismatch with {folder}/index.json (the file changed); '
                       'rerun the command that wrote it with the same flags to make it again')
    arrays = load_npz_bytes(data)
    del data
    yield arrays if key is None else arrays[key]
