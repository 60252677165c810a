"""Resumable folders of numbered files: what a long generation that may be killed needs.

A generation (`jaxgen.store.resumable.write`) writes ``plan.json`` first (how the files are
made: a rerun must match it), then each numbered file ``<stem>_<i:05d>.npz`` atomically (`paths.write_atomic`: a killed write
leaves no half file) followed by its record (``<stem>_<i:05d>.json``: index, num, size,
SHA-256, ...), and ``index.json`` last. A rerun keeps a file whose record exists and whose bytes
match the record's SHA-256 (`verified`), and remakes the rest. Files are written
byte-deterministically (`npz_bytes`), so a file's SHA-256 is a function of its arrays and a
resumed generation writes exactly the bytes of an uninterrupted one. Derived files (a preview
picture) are written atomically and sealed by a record of their SHA-256 (`seal`); a rerun remakes
one that is not `sealed`.

Used by `jaxgen.tools.chunked` (large-N sampling), `jaxgen.tools.reflow` (reflow pairs, read by
`jaxgen.data.pairs`) and the evaluators that read a samples folder (`iterate`).
"""

from __future__ import annotations

import hashlib
import io
import json
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
        a = np.asarray(a)   # (np.ascontiguousarray would make a scalar 1-D)
        np.lib.format.write_array(f, np.ascontiguousarray(a) if a.ndim else a, allow_pickle=False)
  return buf.getvalue()


def load_npz_bytes(data: bytes) -> dict:
  with np.load(io.BytesIO(data), allow_pickle=False) as z:
    return {k: z[k] for k in z.files}


def sha256(data: bytes) -> str:
  """SHA-256 (hex) of `data`: the one digest of files and records in jaxgen."""
  return hashlib.sha256(data).hexdigest()


def file_sha256(path: str) -> str:
  """`sha256` of the file `path`, read in blocks of 1 MiB (a large weights file is never held)."""
  h = hashlib.sha256()
  with paths.open(path, 'rb') as f:
    for block in iter(lambda: f.read(1 << 20), b''):
      h.update(block)
  return h.hexdigest()


def json_text(d: dict) -> str:
  return json.dumps(d, indent=1, sort_keys=True)


def differing_keys(a: dict, b: dict) -> list[str]:
  """The flattened keys (``sampling.steps``) whose values differ between two plans (compared as
  their JSON text would give them back, so tuples equal lists)."""
  fa, fb = dotted(json.loads(json_text(a))), dotted(json.loads(json_text(b)))
  return sorted(k for k in set(fa) | set(fb) if fa.get(k) != fb.get(k))


def dotted(d: dict, prefix: str = '') -> dict:
  """A nested dict flattened to dotted keys (``{'sampling.steps': 3}``)."""
  out = {}
  for k, v in d.items():
    out.update(dotted(v, f'{prefix}{k}.') if isinstance(v, dict) else {prefix + k: v})
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


def file_name(stem: str, i: int) -> str:
  """The numbered file i of a folder: ``<stem>_<i:05d>.npz``."""
  return f'{stem}_{i:05d}.npz'


def record_name(name: str) -> str:
  """The record of the file `name`: its name with ``.json`` for its extension."""
  return name.rsplit('.', 1)[0] + '.json'


def sizes(num: int, per_file: int) -> list[int]:
  """Items per file: `per_file` each, the last file the rest."""
  return [min(per_file, num - s) for s in range(0, num, per_file)]


def write_with_record(folder: str, name: str, data: bytes, **record) -> dict:
  """Writes `name` and then its record (each atomically; the record marks it finished) and
  returns the record: ``file``, ``bytes``, ``sha256`` and `record`'s entries."""
  paths.write_atomic(paths.join(folder, name), data)
  rec = dict(record, file=name, bytes=len(data), sha256=sha256(data))
  paths.write_atomic(paths.join(folder, record_name(name)), json_text(rec))
  return rec


def verified(folder: str, name: str, **expect) -> tuple[Optional[dict], Optional[bytes], str]:
  """``(record, data, why)``: the record and bytes of a finished file (its record exists, holds
  `expect`'s values, and the file's SHA-256 matches it: one read of the file), else ``(None,
  None, why)`` with `why` '' for a file never finished and a short reason for a damaged one."""
  rec = read_json(paths.join(folder, record_name(name)))
  path = paths.join(folder, name)
  if rec is None or not paths.isfile(path):
    return None, None, ''
  if any(rec.get(k) != v for k, v in expect.items()):
    return None, None, 'its record does not match the plan'
  data = paths.read_bytes(path)
  if rec.get('sha256') != sha256(data):
    return None, None, 'SHA-256 mismatch (the file changed after it was written)'
  return rec, data, ''


def seal(folder: str, record: str, files: list[str], **extra) -> dict:
  """Writes `record` (atomically, after the derived `files` of `folder` were written atomically):
  the SHA-256 of each file and `extra`; returns it. `sealed` checks it on a rerun."""
  rec = dict(extra, files={f: sha256(paths.read_bytes(paths.join(folder, f))) for f in files})
  paths.write_atomic(paths.join(folder, record), json_text(rec))
  return rec


def sealed(folder: str, record: str, **expect) -> bool:
  """Whether the derived files of `record` are finished: it exists, holds `expect`'s values, and
  every file it names exists with its SHA-256 (a file cut short by a kill or a full disk is not)."""
  rec = read_json(paths.join(folder, record))
  if not rec or not rec.get('files') or any(rec.get(k) != v for k, v in expect.items()):
    return False
  for name, digest in rec['files'].items():
    path = paths.join(folder, name)
    if not paths.isfile(path) or sha256(paths.read_bytes(path)) != digest:
      return False
  return True


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
